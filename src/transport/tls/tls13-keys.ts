/**
 * TLS 1.3 record protection (RFC 8446 §5.2, §7.1, §7.3), decrypt side only.
 *
 * Bun's TLS (BoringSSL) does not expose the TLS 1.3 Finished messages, but the SMP session id
 * is the client's Finished verify_data (Transport.hs:withTlsUnique). The TLS stack hands us the
 * handshake traffic secrets through its `keylog` event, so we re-open the few handshake records
 * ourselves. Cold path: a handful of records per connection.
 */
import { createHmac } from "node:crypto";

type Chacha = typeof import("@noble/ciphers/chacha.js");
type Aes = typeof import("@noble/ciphers/aes.js");
let chacha: Chacha | null = null;
let aes: Aes | null = null;
// Loaded at the first handshake: an idle server need not hold them.
function chacha20poly1305(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): ReturnType<Chacha["chacha20poly1305"]> {
  return (chacha ??= require("@noble/ciphers/chacha.js") as Chacha).chacha20poly1305(key, nonce, aad);
}
function gcm(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array): ReturnType<Aes["gcm"]> {
  return (aes ??= require("@noble/ciphers/aes.js") as Aes).gcm(key, nonce, aad);
}

/** Bun's node:crypto has no ChaCha20-Poly1305, hence noble for the AEADs; HMAC is native. */
export type Hash = "sha256" | "sha384";
const HASH_LEN: Record<Hash, number> = { sha256: 32, sha384: 48 };

/** HKDF-Expand (RFC 5869 §2.3). */
function expand(hash: Hash, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, o = 0; o < length; i++) {
    t = new Uint8Array(createHmac(hash, prk).update(t).update(info).update(Uint8Array.of(i)).digest());
    out.set(t.subarray(0, Math.min(HASH_LEN[hash], length - o)), o);
    o += t.length;
  }
  return out;
}

export type Tls13Aead = "chacha20-poly1305" | "aes-128-gcm" | "aes-256-gcm";

const LABEL_PREFIX = "tls13 ";

/** HKDF-Expand-Label(secret, label, context, length), RFC 8446 §7.1. */
export function hkdfExpandLabel(
  hash: Hash,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const fullLabel = new TextEncoder().encode(LABEL_PREFIX + label);
  const info = new Uint8Array(2 + 1 + fullLabel.length + 1 + context.length);
  info[0] = length >> 8;
  info[1] = length & 0xff;
  info[2] = fullLabel.length;
  info.set(fullLabel, 3);
  info[3 + fullLabel.length] = context.length;
  info.set(context, 4 + fullLabel.length);
  return expand(hash, secret, info, length);
}

interface Candidate {
  aead: Tls13Aead;
  key: Uint8Array;
  iv: Uint8Array;
}

const AEAD_HASH: Record<Tls13Aead, Hash> = { "chacha20-poly1305": "sha256", "aes-128-gcm": "sha256", "aes-256-gcm": "sha384" };
const AEAD_KEY_LEN: Record<Tls13Aead, number> = { "chacha20-poly1305": 32, "aes-128-gcm": 16, "aes-256-gcm": 32 };

function candidate(aead: Tls13Aead, secret: Uint8Array): Candidate {
  const empty = new Uint8Array(0);
  const hash = AEAD_HASH[aead];
  return { aead, key: hkdfExpandLabel(hash, secret, "key", empty, AEAD_KEY_LEN[aead]), iv: hkdfExpandLabel(hash, secret, "iv", empty, 12) };
}

/**
 * Opens the TLS 1.3 records of one direction protected by one traffic secret. The secret's
 * length gives the suite's hash; with SHA-256 both ChaCha20-Poly1305 and AES-128-GCM are
 * possible, and the first record's authentication tag tells which one was negotiated (the keylog
 * line does not say, and the negotiated cipher is not reliably readable at keylog time).
 */
export class RecordDecryptor {
  /** AEADs still possible, most likely first (ChaCha20 is what SimpleX clients use); keys derived on first try. */
  private possible: Tls13Aead[];
  private derived: Candidate[] = [];
  private seq = 0;
  private readonly nonce = new Uint8Array(12);

  constructor(private readonly trafficSecret: Uint8Array) {
    if (trafficSecret.length === 48) this.possible = ["aes-256-gcm"];
    else if (trafficSecret.length === 32) this.possible = ["chacha20-poly1305", "aes-128-gcm"];
    else throw new RangeError(`unexpected TLS 1.3 traffic secret length ${trafficSecret.length}`);
  }

  /** The AEAD in use once a record has been opened. */
  get aead(): Tls13Aead | null {
    return this.possible.length === 1 ? this.possible[0] : null;
  }

  /**
   * `header` = the 5-byte record header (the AEAD additional data), `body` = ciphertext ‖ tag.
   * Returns TLSInnerPlaintext (content ‖ type ‖ zeros) or null when no candidate authenticates.
   */
  open(header: Uint8Array, body: Uint8Array): Uint8Array | null {
    for (let k = 0; k < this.possible.length; k++) {
      if (this.derived.length <= k) this.derived.push(candidate(this.possible[k], this.trafficSecret));
      const c = this.derived[k];
      this.setNonce(c.iv);
      try {
        const plain =
          c.aead === "chacha20-poly1305"
            ? chacha20poly1305(c.key, this.nonce, header).decrypt(body)
            : gcm(c.key, this.nonce, header).decrypt(body);
        this.possible = [c.aead];
        this.derived = [c];
        this.seq++;
        return plain;
      } catch {
        // authentication failed: try the next candidate
      }
    }
    return null;
  }

  /** nonce = iv XOR 64-bit big-endian record sequence number (left-padded). */
  private setNonce(iv: Uint8Array): void {
    this.nonce.set(iv);
    let s = this.seq;
    for (let i = 11; i >= 4 && s > 0; i--) {
      this.nonce[i] ^= s & 0xff;
      s = Math.floor(s / 256);
    }
  }
}

/** A keylog line: `LABEL <client_random hex> <secret hex>` (NSS key log format). */
export function parseKeylogLine(line: Uint8Array): { label: string; secret: Uint8Array } | null {
  const text = new TextDecoder().decode(line).trim();
  const parts = text.split(" ");
  if (parts.length !== 3 || !/^[0-9a-fA-F]+$/.test(parts[2]) || parts[2].length % 2 !== 0) return null;
  return { label: parts[0], secret: new Uint8Array(Buffer.from(parts[2], "hex")) };
}

export const CLIENT_HANDSHAKE_TRAFFIC_SECRET = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
export const SERVER_HANDSHAKE_TRAFFIC_SECRET = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
