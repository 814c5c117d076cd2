/**
 * Proxy counters (Server/Stats.hs:ProxyStats, pRelays / pMsgFwds / pMsgFwdsRecv, and the "own"
 * copies for destinations under [PROXY] own_server_domains).
 */
export class ProxyCounters {
  requests = 0;
  /** Includes the destination's ERR answers, which are passed on to the client. */
  successes = 0;
  errorsConnect = 0;
  errorsCompat = 0;
  errorsOther = 0;
}

type Field = keyof ProxyCounters;

/** Server.hs:mkIncProxyStats: the counter, and its "own" copy when the destination is ours. */
export function countProxy(all: ProxyCounters, own: ProxyCounters | null, f: Field): void {
  all[f]++;
  if (own !== null) own[f]++;
}

/** Client/Agent.hs:isOwnServer: the first host equals an own domain or is under it. */
export function isOwnServer(ownDomains: readonly string[] | undefined, hosts: readonly string[]): boolean {
  const h = hosts[0];
  if (h === undefined || ownDomains === undefined) return false;
  // `.d` is a suffix of h, tested without building the string (PFWD asks this per transmission)
  for (const d of ownDomains) if (h === d || (h.length > d.length && h.endsWith(d) && h.charCodeAt(h.length - d.length - 1) === 0x2e)) return true;
  return false;
}

export class ProxyStats {
  /** PRXY: sessions with destination routers requested by clients. */
  readonly relays = new ProxyCounters();
  /** PFWD: commands forwarded to destinations. */
  readonly msgFwds = new ProxyCounters();
  /** The same, for destinations that are the operator's own servers. */
  readonly relaysOwn = new ProxyCounters();
  readonly msgFwdsOwn = new ProxyCounters();
  /** RFWD received as a destination. */
  msgFwdsRecv = 0;
}
