/**
 * Server counters (Server/Stats.hs:ServerStats, the subset this server maintains so far), kept
 * in memory and updated incrementally; never computed by scanning the store.
 */
export class ServerStats {
  fromTime = Date.now();
  qCreated = 0;
  qSecured = 0;
  qDeletedAll = 0;
  qSub = 0;
  qSubAuth = 0;
  qSubDuplicate = 0;
  qSubProhibited = 0;
  qSubEnd = 0;
  msgSent = 0;
  msgSentAuth = 0;
  msgSentQuota = 0;
  msgSentLarge = 0;
  msgSentBlock = 0;
  msgRecv = 0;
  msgRecvGet = 0;
  msgGet = 0;
  msgGetNoMsg = 0;
  msgGetAuth = 0;
  msgGetDuplicate = 0;
  msgGetProhibited = 0;
  msgExpired = 0;
  msgSentNtf = 0;
  msgRecvNtf = 0;
  msgNtfs = 0;
  msgNtfNoSub = 0;
  ntfCreated = 0;
  ntfDeleted = 0;
  ntfSub = 0;
  ntfSubAuth = 0;
  ntfSubDuplicate = 0;
  connections = 0;
  handshakeFailures = 0;
  /** Connections closed at accept: at the connection bound, over the per-address bound (ours). */
  connRefusedMax = 0;
  connRefusedPerAddress = 0;
  /** Connections closed because a block began and stalled (ours). */
  partialBlockTimeouts = 0;
  /** Messaging services (SUB/SUBS), and notifier services (NSUB/NSUBS). */
  readonly rcvServices = new ServiceStats();
  readonly ntfServices = new ServiceStats();
  /** Messages delivered after SUBS, and queues skipped because a delivery was already in flight. */
  rcvServicesSubMsg = 0;
  rcvServicesSubDuplicate = 0;
}

/**
 * Server/Stats.hs:ServiceStats. `subDuplicate` (repeated SUBS/NSUBS on a connection) and
 * `subEnd` (ENDS sent) exist in the reference but are never incremented there; we count them.
 */
export class ServiceStats {
  assocNew = 0;
  assocDuplicate = 0;
  assocUpdated = 0;
  assocRemoved = 0;
  subCount = 0;
  subDuplicate = 0;
  subQueues = 0;
  subEnd = 0;
  /** SUBS/NSUBS whose expected count and hash matched the server's. */
  subOk = 0;
  /** The server had more queues than expected (and by how many in total). */
  subMore = 0;
  subMoreTotal = 0;
  subFewer = 0;
  subFewerTotal = 0;
  /** Same count, different hash. */
  subDiff = 0;
}
