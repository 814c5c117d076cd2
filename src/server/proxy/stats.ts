/**
 * Proxy counters (Server/Stats.hs:ProxyStats, pRelays / pMsgFwds / pMsgFwdsRecv). The "own
 * server" split of the reference (own_server_domains) is not kept.
 */
export class ProxyCounters {
  requests = 0;
  /** Includes the destination's ERR answers, which are passed on to the client. */
  successes = 0;
  errorsConnect = 0;
  errorsCompat = 0;
  errorsOther = 0;
}

export class ProxyStats {
  /** PRXY: sessions with destination routers requested by clients. */
  readonly relays = new ProxyCounters();
  /** PFWD: commands forwarded to destinations. */
  readonly msgFwds = new ProxyCounters();
  /** RFWD received as a destination. */
  msgFwdsRecv = 0;
}
