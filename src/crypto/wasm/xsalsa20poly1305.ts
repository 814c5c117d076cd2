/**
 * XSalsa20-Poly1305 (the Crypto.hs:cryptoBox construction, see ../secretbox.ts) on the
 * WebAssembly SIMD kernel: the message is copied into the kernel's memory, sealed or opened
 * there in place, and copied back. Key material is wiped from that memory after each call.
 *
 * `loadWasmSecretbox()` is null where WebAssembly SIMD is unavailable; secretbox.ts then uses
 * noble. secretbox.ts calls it at the first encryption, not at start-up: decoding, validating and
 * compiling the module touches several MB of the runtime's WebAssembly machinery, which an idle
 * server need not hold.
 */
import { DATA, KEY, MESSAGE, NONCE, PAGE, POLY_TAIL, SCRATCH, TAG, ZERO16 } from "./xsalsa20poly1305-layout.ts";
import { KERNEL_WASM_BASE64 } from "./xsalsa20poly1305-wasm.ts";

interface Kernel {
  readonly memory: WebAssembly.Memory;
  seal(len: number): void;
  open(len: number): number;
}

const TAG_LEN = 16;
/** KEY, NONCE and SUBKEY; the Poly1305 key sits at DATA, the last keystream chunk at SCRATCH. */
const SECRETS_END = ZERO16;
const KEYSTREAM_START = SCRATCH;
const KEYSTREAM_END = SCRATCH + 256;

export class WasmSecretbox {
  private mem: Uint8Array;

  constructor(private readonly k: Kernel) {
    this.mem = new Uint8Array(k.memory.buffer);
  }

  /** Memory for a message of `len` bytes (grows; growing replaces the buffer). */
  private room(len: number): Uint8Array {
    const need = MESSAGE + len;
    if (need > this.mem.length) {
      this.k.memory.grow(Math.ceil((need - this.mem.length) / PAGE));
      this.mem = new Uint8Array(this.k.memory.buffer);
    }
    return this.mem;
  }

  private wipe(m: Uint8Array): void {
    m.fill(0, KEY, SECRETS_END);
    // The tags and the last partial Poly1305 block: a failed open leaves the right tag there.
    m.fill(0, TAG, POLY_TAIL + 16);
    m.fill(0, KEYSTREAM_START, KEYSTREAM_END);
    m.fill(0, DATA, MESSAGE);
  }

  private load(m: Uint8Array, key: Uint8Array, nonce: Uint8Array): void {
    if (key.length !== 32) throw new RangeError("secretbox key must be 32 bytes");
    if (nonce.length !== 24) throw new RangeError("nonce must be 24 bytes");
    m.set(key, KEY);
    m.set(nonce, NONCE);
  }

  /** Encrypts `buf[at .. at+len)` in place and writes the tag to `buf[at-16 .. at)`. */
  sealInPlace(key: Uint8Array, nonce: Uint8Array, buf: Uint8Array, at: number, len: number): void {
    if (at < TAG_LEN || at + len > buf.length) throw new RangeError("sealInPlace: bad range");
    const m = this.room(len);
    this.load(m, key, nonce);
    m.set(buf.subarray(at, at + len), MESSAGE);
    this.k.seal(len);
    buf.set(m.subarray(MESSAGE, MESSAGE + len), at);
    buf.set(m.subarray(TAG, TAG + TAG_LEN), at - TAG_LEN);
    this.wipe(m);
  }

  /** Authenticates `packet` (tag ‖ ciphertext) and decrypts it into `out`; the plaintext view or null. */
  openInto(key: Uint8Array, nonce: Uint8Array, packet: Uint8Array, out: Uint8Array): Uint8Array | null {
    if (packet.length < TAG_LEN) return null;
    const len = packet.length - TAG_LEN;
    if (out.length < len) throw new RangeError("openInto: output buffer too small");
    const m = this.room(len);
    this.load(m, key, nonce);
    m.set(packet.subarray(0, TAG_LEN), TAG);
    m.set(packet.subarray(TAG_LEN), MESSAGE);
    const ok = this.k.open(len) === 1;
    this.wipe(m);
    if (!ok) return null;
    const pt = out.subarray(0, len);
    pt.set(m.subarray(MESSAGE, MESSAGE + len));
    return pt;
  }
}

/** A new instance of the kernel (its own memory), or null where WebAssembly SIMD is unavailable. */
export function loadWasmSecretbox(): WasmSecretbox | null {
  try {
    const bytes = Uint8Array.from(Buffer.from(KERNEL_WASM_BASE64, "base64"));
    return new WasmSecretbox(new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as Kernel);
  } catch {
    return null;
  }
}
