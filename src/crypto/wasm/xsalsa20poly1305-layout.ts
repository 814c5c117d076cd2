/** Where the XSalsa20-Poly1305 kernel (xsalsa20poly1305-kernel.ts) keeps things in its memory (byte offsets). */
export const KEY = 0; // 32: the secretbox key (or the raw X25519 secret for crypto_box)
export const NONCE = 32; // 24
export const SUBKEY = 64; // 32: HSalsa20(HSalsa20(key, 0^16), nonce[0:16])
export const ZERO16 = 96; // 16 zero bytes
export const TAG = 128; // 16: the tag written by seal, the tag to check for open
export const MAC = 144; // 16: the tag computed by open
export const POLY_TAIL = 160; // 16: last partial Poly1305 block, padded
export const SCRATCH = 256; // 256: keystream of the last partial chunk (three 64-byte blocks)
export const POLY_POWERS = 512; // 288 (+4 scratch): Poly1305 multipliers for four blocks at a time (wiped by the kernel)
/** 32 zero bytes (the Poly1305 key's place), then the message. */
export const DATA = 1024;
export const MESSAGE = DATA + 32;
export const PAGE = 65536;
