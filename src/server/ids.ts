/** `queueIdBytes` / `msgIdBytes` (Server/Main.hs:serverConfig): 24 random bytes. */
export function randomId(n = 24): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
