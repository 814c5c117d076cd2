/**
 * Secretbox chains for transport block encryption (Crypto.hs:sbcInit / sbcHkdf;
 * Transport.hs:blockEncryption). Each direction has a chain key that is ratcheted once per
 * 16 KB block, so every block gets a fresh (key, nonce) and a compromised key does not expose
 * earlier blocks.
 */
import { hkdf } from "./hkdf.ts";

const INIT_INFO = new TextEncoder().encode("SimpleXSbChainInit");
const STEP_INFO = new TextEncoder().encode("SimpleXSbChain");
const EMPTY = new Uint8Array(0);

/**
 * Crypto.hs:sbcInit(salt = sessionId, secret = X25519 DH) → [ck1, ck2].
 * ck1 encrypts server→client blocks, ck2 client→server (Transport.hs:smpTHandleServer; the
 * client swaps them).
 */
export function sbcInit(sessionId: Uint8Array, dhSecret: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(sessionId, dhSecret, INIT_INFO, 64);
  return [out.slice(0, 32), out.slice(32, 64)];
}

/** Crypto.hs:sbcHkdf: 88 bytes = next chain key(32) || secretbox key(32) || nonce(24). */
export function sbcHkdf(chainKey: Uint8Array): { key: Uint8Array; nonce: Uint8Array; next: Uint8Array } {
  const out = hkdf(EMPTY, chainKey, STEP_INFO, 88);
  return { next: out.subarray(0, 32), key: out.subarray(32, 64), nonce: out.subarray(64, 88) };
}

/**
 * One direction's chain. `advance()` ratchets and exposes this block's `key` and `nonce`
 * (views overwritten by the next advance). The chain advances even if the block then fails
 * to decrypt, as in the reference (tGetBlock takes the key before decrypting).
 */
export class ChainState {
  private chainKey: Uint8Array;
  private readonly material = new Uint8Array(56);
  readonly key: Uint8Array = this.material.subarray(0, 32);
  readonly nonce: Uint8Array = this.material.subarray(32, 56);

  constructor(chainKey: Uint8Array) {
    if (chainKey.length !== 32) throw new RangeError("chain key must be 32 bytes");
    this.chainKey = chainKey.slice();
  }

  advance(): void {
    const out = hkdf(EMPTY, this.chainKey, STEP_INFO, 88);
    this.chainKey.set(out.subarray(0, 32));
    this.material.set(out.subarray(32, 88));
    out.fill(0);
  }
}

/** Per-connection chains from the server's side: send with ck1, receive with ck2. */
export function serverChains(sessionId: Uint8Array, dhSecret: Uint8Array): { send: ChainState; receive: ChainState } {
  const [ck1, ck2] = sbcInit(sessionId, dhSecret);
  return { send: new ChainState(ck1), receive: new ChainState(ck2) };
}

/** Client side (Transport.hs:smpTHandleClient swaps the keys): send with ck2, receive with ck1. */
export function clientChains(sessionId: Uint8Array, dhSecret: Uint8Array): { send: ChainState; receive: ChainState } {
  const [ck1, ck2] = sbcInit(sessionId, dhSecret);
  return { send: new ChainState(ck2), receive: new ChainState(ck1) };
}
