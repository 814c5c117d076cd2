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
}
