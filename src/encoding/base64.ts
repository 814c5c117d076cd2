/**
 * String encodings used outside the binary protocol (simplexmq `Encoding/String.hs`):
 * base64url WITH `=` padding for ids, keys and fingerprints; standard base64 only in QUE JSON.
 */
export function base64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Accepts `[A-Za-z0-9_-]+=*` as the reference parser does. */
export function fromBase64url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]+=*$/.test(s)) throw new Error("bad base64url");
  return new Uint8Array(Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
}

export function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

export function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64"));
}
