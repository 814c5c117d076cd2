/**
 * Map keys for binary ids (queue, notifier and service ids): one latin1 string per id, which
 * JS maps hash and compare natively.
 */
export function idKey(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("latin1");
}

/** `queueIdBytes` / `msgIdBytes` (Server/Main.hs:serverConfig): 24 random bytes. */
export function randomId(n = 24): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
