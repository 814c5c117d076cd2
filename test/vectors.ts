// Loads the reference vectors (bytes computed by simplexmq itself) from `test/fixtures/vectors/` (copied unchanged,
// see its README). Resolved relative to this file so tests run the same way from any clone and in CI.
import { readFileSync } from "node:fs";

const cache = new Map<string, unknown>();

/** Parses `test/fixtures/vectors/<name>` (e.g. "crypto.json"); cached per process. */
export function loadVectors(name: string): any {
  const hit = cache.get(name);
  if (hit !== undefined) return hit;
  const url = new URL("./fixtures/vectors/" + name, import.meta.url);
  const data = JSON.parse(readFileSync(url, "utf8"));
  cache.set(name, data);
  return data;
}

/** Lowercase hex → bytes (vectors store every byte string as hex). */
export function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, "hex"));
}

/** Bytes → lowercase hex, for readable failure diffs. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
