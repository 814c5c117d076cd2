/**
 * The XSalsa20-Poly1305 kernel as WebAssembly (SIMD), emitted by the assembler in this directory:
 *
 *  - Salsa20 four blocks at a time: each v128 holds one state word of four consecutive blocks,
 *    so the quarter-rounds are plain lane-wise adds, rotates and xors; a 4×4 transpose turns the
 *    result back into keystream order (D. J. Bernstein, "Salsa20 specification", §8–10);
 *  - HSalsa20 (scalar) for the XSalsa20 subkey (Bernstein, "Extending the Salsa20 nonce");
 *  - Poly1305 with five 26-bit limbs in 64-bit arithmetic (as poly1305-donna-32; RFC 8439 §2.5);
 *  - seal/open as NaCl's crypto_secretbox: 32 zero bytes in front of the message, so the first
 *    32 keystream bytes become the Poly1305 key and the message is XORed from byte 32 on.
 *
 * The caller (xsalsa20poly1305.ts) places key, nonce and data at the offsets of
 * xsalsa20poly1305-layout.ts. It loads the module from xsalsa20poly1305-wasm.ts, which this file
 * writes (`bun src/crypto/wasm/xsalsa20poly1305-kernel.ts`): generating at start-up would cost
 * the server ~10 MB of JIT memory for a one-off; a test keeps the two identical.
 */
import { writeFileSync } from "node:fs";
import { assemble, Fn, i32, i64, v128 } from "./assembler.ts";

import { DATA, KEY, MAC, MESSAGE, NONCE, POLY_TAIL, SCRATCH, SUBKEY, TAG, ZERO16 } from "./xsalsa20poly1305-layout.ts";

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]; // "expand 32-byte k"
const MASK26 = 0x3ffffffn;

/** Salsa20 quarter-round pattern: [a, b, c, d] for the column then the row round. */
const COLUMNS = [
  [0, 4, 8, 12],
  [5, 9, 13, 1],
  [10, 14, 2, 6],
  [15, 3, 7, 11],
];
const ROWS = [
  [0, 1, 2, 3],
  [5, 6, 7, 4],
  [10, 11, 8, 9],
  [15, 12, 13, 14],
];
/** Each step of a quarter-round: target ^= rotl(x + y, r). */
function quarterSteps(a: number, b: number, c: number, d: number): [number, number, number, number][] {
  return [
    [b, a, d, 7],
    [c, b, a, 9],
    [d, c, b, 13],
    [a, d, c, 18],
  ];
}

// ---------------------------------------------------------------- HSalsa20 (function 0)

function hsalsa(): Fn {
  const f = new Fn(null, [i32, i32, i32], []); // (key, nonce16, out)
  const [k, n, out] = [0, 1, 2];
  const x = Array.from({ length: 16 }, () => f.local(i32));
  const round = f.local(i32);
  const consts = [0, 5, 10, 15];
  consts.forEach((w, i) => f.i32const(SIGMA[i]!).set(x[w]!));
  for (let i = 0; i < 4; i++) f.get(k).i32load(4 * i).set(x[1 + i]!);
  for (let i = 0; i < 4; i++) f.get(k).i32load(16 + 4 * i).set(x[11 + i]!);
  for (let i = 0; i < 4; i++) f.get(n).i32load(4 * i).set(x[6 + i]!);
  f.i32const(10).set(round);
  f.loop();
  for (const qs of [COLUMNS, ROWS])
    for (const [a, b, c, d] of qs)
      for (const [t, p, q, r] of quarterSteps(a!, b!, c!, d!)) f.get(x[t]!).get(x[p]!).get(x[q]!).i32add().i32const(r).i32rotl().i32xor().set(x[t]!);
  f.get(round).i32const(1).i32sub().tee(round).brIf(0);
  f.end();
  [0, 5, 10, 15, 6, 7, 8, 9].forEach((w, i) => f.get(out).get(x[w]!).i32store(4 * i));
  return f;
}

// ---------------------------------------------------------------- Salsa20 ×4 (function 1)

/** XORs the Salsa20 keystream (key SUBKEY, nonce NONCE[16:24], block counter from 0) over [ptr, ptr+len). */
function salsaXor(): Fn {
  const f = new Fn(null, [i32, i32], []); // (ptr, len)
  const [ptr, len] = [0, 1];
  const v = Array.from({ length: 16 }, () => f.local(v128));
  const s = Array.from({ length: 16 }, () => f.local(v128));
  const [t, t0, t1, t2, t3] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const [p, ctr, round, j] = [f.local(i32), f.local(i32), f.local(i32), f.local(i32)];

  // Initial state, the same for every chunk but the counter words.
  [0, 5, 10, 15].forEach((w, i) => f.i32const(SIGMA[i]!).i32x4splat().set(s[w]!));
  for (let i = 0; i < 4; i++) f.i32const(0).i32load(SUBKEY + 4 * i).i32x4splat().set(s[1 + i]!);
  for (let i = 0; i < 4; i++) f.i32const(0).i32load(SUBKEY + 16 + 4 * i).i32x4splat().set(s[11 + i]!);
  f.i32const(0).i32load(NONCE + 16).i32x4splat().set(s[6]!);
  f.i32const(0).i32load(NONCE + 20).i32x4splat().set(s[7]!);
  // Block counter high word: messages here are far below 2^32 blocks.
  f.i32const(0).i32x4splat().set(s[9]!);
  f.i32const(0).set(ctr);
  f.get(ptr).set(p);

  /**
   * Four keystream blocks (counters ctr..ctr+3) into v[], ctr += 4. (Measured alternatives, all
   * slower end to end on x64: the initial state in memory instead of locals, the rounds unrolled.)
   */
  const blocks = (): void => {
    f.get(ctr).i32x4splat().v128const([0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]).i32x4add().set(s[8]!);
    for (let i = 0; i < 16; i++) f.get(s[i]!).set(v[i]!);
    f.i32const(10).set(round);
    f.loop();
    for (const qs of [COLUMNS, ROWS])
      for (const [a, b, c, d] of qs)
        for (const [tg, x, y, r] of quarterSteps(a!, b!, c!, d!))
          f.get(v[x]!).get(v[y]!).i32x4add().tee(t)
            .i32const(r).i32x4shl()
            .get(t).i32const(32 - r).i32x4shrU()
            .v128or().get(v[tg]!).v128xor().set(v[tg]!);
    f.get(round).i32const(1).i32sub().tee(round).brIf(0);
    f.end();
    for (let i = 0; i < 16; i++) f.get(v[i]!).get(s[i]!).i32x4add().set(v[i]!);
    f.get(ctr).i32const(4).i32add().set(ctr);
  };

  /** Transposes word group g (words 4g..4g+3 of the four blocks) and hands each block's 16 bytes to `put`. */
  const output = (put: (offset: number, value: () => void) => void): void => {
    for (let g = 0; g < 4; g++) {
      const [a, b, c, d] = [v[4 * g]!, v[4 * g + 1]!, v[4 * g + 2]!, v[4 * g + 3]!];
      f.get(a).get(b).shuffle32([0, 4, 1, 5]).set(t0);
      f.get(c).get(d).shuffle32([0, 4, 1, 5]).set(t1);
      f.get(a).get(b).shuffle32([2, 6, 3, 7]).set(t2);
      f.get(c).get(d).shuffle32([2, 6, 3, 7]).set(t3);
      put(16 * g, () => f.get(t0).get(t1).shuffle32([0, 1, 4, 5]));
      put(64 + 16 * g, () => f.get(t0).get(t1).shuffle32([2, 3, 6, 7]));
      put(128 + 16 * g, () => f.get(t2).get(t3).shuffle32([0, 1, 4, 5]));
      put(192 + 16 * g, () => f.get(t2).get(t3).shuffle32([2, 3, 6, 7]));
    }
  };

  // Whole 256-byte chunks: XOR in place.
  f.block().loop();
  f.get(ptr).get(len).i32add().get(p).i32sub().i32const(256).i32ltU().brIf(1);
  blocks();
  output((off, value) => {
    f.get(p);
    f.get(p).v128load(off);
    value();
    f.v128xor().v128store(off);
  });
  f.get(p).i32const(256).i32add().set(p);
  f.br(0);
  f.end().end();

  // The rest (< 256 bytes): keystream to SCRATCH, then byte by byte.
  f.get(p).get(ptr).get(len).i32add().i32ltU().if_();
  blocks();
  output((off, value) => {
    f.i32const(SCRATCH);
    value();
    f.v128store(off);
  });
  f.i32const(0).set(j);
  f.block().loop();
  f.get(p).get(j).i32add().get(ptr).get(len).i32add().i32geU().brIf(1);
  f.get(p).get(j).i32add();
  f.get(p).get(j).i32add().i32load8u();
  f.get(j).i32load8u(SCRATCH);
  f.i32xor().i32store8();
  f.get(j).i32const(1).i32add().set(j);
  f.br(0);
  f.end().end();
  f.end();
  return f;
}

// ---------------------------------------------------------------- Poly1305 (function 2)

function poly1305(): Fn {
  const f = new Fn(null, [i32, i32, i32, i32], []); // (key, msg, len, out)
  const [key, msg, len, out] = [0, 1, 2, 3];
  const r = Array.from({ length: 5 }, () => f.local(i64));
  const s = Array.from({ length: 5 }, () => f.local(i64)); // s[i] = 5 r[i], i ≥ 1
  const h = Array.from({ length: 5 }, () => f.local(i64));
  const d = Array.from({ length: 5 }, () => f.local(i64));
  const g = Array.from({ length: 5 }, () => f.local(i64));
  const [c, mask] = [f.local(i64), f.local(i64)];
  const [m, left, j] = [f.local(i32), f.local(i32), f.local(i32)];

  // r = clamp(key[0:16]) as 26-bit limbs.
  const rLimb: [number, number, bigint][] = [
    [0, 0, 0x3ffffffn],
    [3, 2, 0x3ffff03n],
    [6, 4, 0x3ffc0ffn],
    [9, 6, 0x3f03fffn],
    [12, 8, 0x00fffffn],
  ];
  rLimb.forEach(([off, shift, msk], i) => f.get(key).i64load32u(off).i64const(BigInt(shift)).i64shrU().i64const(msk).i64and().set(r[i]!));
  for (let i = 1; i < 5; i++) f.get(r[i]!).i64const(5n).i64mul().set(s[i]!);
  for (let i = 0; i < 5; i++) f.i64const(0n).set(h[i]!);

  /** h = (h + block at `ptr` (+ 2^128 when hibit)) · r mod 2^130 − 5, partially reduced. */
  const block = (ptr: number, hibit: bigint): void => {
    const limbs: [number, number][] = [
      [0, 0],
      [3, 2],
      [6, 4],
      [9, 6],
    ];
    limbs.forEach(([off, shift], i) => f.get(h[i]!).get(ptr).i64load32u(off).i64const(BigInt(shift)).i64shrU().i64const(MASK26).i64and().i64add().set(h[i]!));
    f.get(h[4]!).get(ptr).i64load32u(12).i64const(8n).i64shrU().i64const(hibit).i64or().i64add().set(h[4]!);
    // d[k] = Σ h[i]·r[k−i], wrapping with ·5 (s) for i > k.
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 5; i++) {
        const rr = i <= k ? r[k - i]! : s[k - i + 5]!;
        f.get(h[i]!).get(rr).i64mul();
        if (i > 0) f.i64add();
      }
      f.set(d[k]!);
    }
    for (let k = 0; k < 5; k++) {
      if (k > 0) f.get(d[k]!).get(c).i64add().set(d[k]!);
      f.get(d[k]!).i64const(26n).i64shrU().set(c);
      f.get(d[k]!).i64const(MASK26).i64and().set(h[k]!);
    }
    f.get(h[0]!).get(c).i64const(5n).i64mul().i64add().set(h[0]!);
    f.get(h[0]!).i64const(26n).i64shrU().set(c);
    f.get(h[0]!).i64const(MASK26).i64and().set(h[0]!);
    f.get(h[1]!).get(c).i64add().set(h[1]!);
  };

  f.get(msg).set(m);
  f.get(len).set(left);
  f.block().loop();
  f.get(left).i32const(16).i32ltU().brIf(1);
  block(m, 1n << 24n);
  f.get(m).i32const(16).i32add().set(m);
  f.get(left).i32const(16).i32sub().set(left);
  f.br(0);
  f.end().end();

  // Last partial block: the bytes, then 1, then zeros; no 2^128.
  f.get(left).if_();
  f.i32const(POLY_TAIL).i64const(0n).i64store(0);
  f.i32const(POLY_TAIL).i64const(0n).i64store(8);
  f.i32const(0).set(j);
  f.block().loop();
  f.get(j).get(left).i32geU().brIf(1);
  f.get(j).get(m).get(j).i32add().i32load8u().i32store8(POLY_TAIL);
  f.get(j).i32const(1).i32add().set(j);
  f.br(0);
  f.end().end();
  f.get(left).i32const(1).i32store8(POLY_TAIL);
  f.i32const(POLY_TAIL).set(m);
  block(m, 0n);
  f.end();

  // Full carry, then h − p if h ≥ p (constant time).
  for (let k = 1; k < 5; k++) {
    if (k > 1) f.get(h[k]!).get(c).i64add().set(h[k]!);
    f.get(h[k]!).i64const(26n).i64shrU().set(c);
    f.get(h[k]!).i64const(MASK26).i64and().set(h[k]!);
  }
  f.get(h[0]!).get(c).i64const(5n).i64mul().i64add().set(h[0]!);
  f.get(h[0]!).i64const(26n).i64shrU().set(c);
  f.get(h[0]!).i64const(MASK26).i64and().set(h[0]!);
  f.get(h[1]!).get(c).i64add().set(h[1]!);

  f.get(h[0]!).i64const(5n).i64add().set(g[0]!);
  for (let k = 0; k < 5; k++) {
    if (k > 0) f.get(h[k]!).get(c).i64add().set(g[k]!);
    if (k < 4) {
      f.get(g[k]!).i64const(26n).i64shrU().set(c);
      f.get(g[k]!).i64const(MASK26).i64and().set(g[k]!);
    }
  }
  f.get(g[4]!).i64const(1n << 26n).i64sub().set(g[4]!);
  // mask = all ones when g4 ≥ 0 (h ≥ p: take g), zero otherwise.
  f.get(g[4]!).i64const(63n).i64shrU().i64const(1n).i64sub().set(mask);
  for (let k = 0; k < 5; k++) {
    f.get(h[k]!).get(mask).i64const(-1n).i64xor().i64and();
    f.get(g[k]!).get(mask).i64and();
    f.i64or().set(h[k]!);
  }
  // h mod 2^128 as four 32-bit words, plus s = key[16:32], stored little-endian.
  const word = (k: number): void => {
    // bits 32k .. 32k+31 of h = h[k] >> 6k | h[k+1] << (26 − 6k)
    f.get(h[k]!).i64const(BigInt(6 * k)).i64shrU();
    f.get(h[k + 1]!).i64const(BigInt(26 - 6 * k)).i64shl().i64or();
    f.i64const(0xffffffffn).i64and();
  };
  for (let k = 0; k < 4; k++) {
    word(k);
    f.get(key).i64load32u(16 + 4 * k).i64add();
    if (k > 0) f.get(c).i64const(32n).i64shrU().i64add();
    f.set(c);
    f.get(out).get(c).i32wrapI64().i32store(4 * k);
  }
  return f;
}

// ---------------------------------------------------------------- seal / open (exported)

const HSALSA = 0;
const SALSA_XOR = 1;
const POLY1305 = 2;

function subkey(f: Fn): void {
  f.i32const(KEY).i32const(ZERO16).i32const(SUBKEY).call(HSALSA);
  f.i32const(SUBKEY).i32const(NONCE).i32const(SUBKEY).call(HSALSA);
}

function zeroPolyKey(f: Fn): void {
  for (let i = 0; i < 4; i++) f.i32const(DATA).i64const(0n).i64store(8 * i);
}

/** seal(len): encrypts MESSAGE[0:len] in place, tag to TAG. */
function seal(): Fn {
  const f = new Fn("seal", [i32], []);
  subkey(f);
  zeroPolyKey(f);
  f.i32const(DATA).get(0).i32const(32).i32add().call(SALSA_XOR);
  f.i32const(DATA).i32const(MESSAGE).get(0).i32const(TAG).call(POLY1305);
  return f;
}

/** open(len): 1 and MESSAGE[0:len] decrypted in place if TAG authenticates it, else 0 (data untouched). */
function open(): Fn {
  const f = new Fn("open", [i32], [i32]);
  subkey(f);
  zeroPolyKey(f);
  f.i32const(DATA).i32const(32).call(SALSA_XOR);
  f.i32const(DATA).i32const(MESSAGE).get(0).i32const(MAC).call(POLY1305);
  // Constant-time tag comparison (Crypto.hs:sbDecryptNoPad_ uses BA.constEq); only the verdict branches.
  f.i32const(0).i64load(MAC).i32const(0).i64load(TAG).i64xor();
  f.i32const(0).i64load(MAC + 8).i32const(0).i64load(TAG + 8).i64xor();
  f.i64or().i64eqz().i32eqz().if_();
  f.i32const(0).ret();
  f.end();
  zeroPolyKey(f);
  f.i32const(DATA).get(0).i32const(32).i32add().call(SALSA_XOR);
  f.i32const(1);
  return f;
}

/** The module's bytes; its memory starts at one page (the caller grows it for long messages). */
export function kernelModule(): Uint8Array {
  return assemble([hsalsa(), salsaXor(), poly1305(), seal(), open()], 1);
}

if (import.meta.main) {
  const out = new URL("./xsalsa20poly1305-wasm.ts", import.meta.url);
  const b64 = Buffer.from(kernelModule()).toString("base64");
  const lines = b64.match(/.{1,96}/g)!.map((l) => `  "${l}"`).join(" +\n");
  writeFileSync(out, `// Generated by \`bun src/crypto/wasm/xsalsa20poly1305-kernel.ts\` — do not edit (test/crypto/secretbox-wasm.test.ts checks it).\nexport const KERNEL_WASM_BASE64 =\n${lines};\n`);
  console.log(`wrote ${out.pathname}`);
}
