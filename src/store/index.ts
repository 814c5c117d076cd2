export * from "./types.ts";
export { emptyIdsHash, queueIdsHash, xorQueueId, IDS_HASH_LENGTH } from "./idsHash.ts";
export { openSqliteStore, SqliteStore, type SqliteStoreOptions } from "./sqlite/store.ts";
export { SCHEMA_VERSION } from "./sqlite/schema.ts";
