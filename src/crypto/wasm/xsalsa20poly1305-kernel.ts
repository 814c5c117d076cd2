/**
 * The XSalsa20-Poly1305 kernel as WebAssembly (SIMD), emitted by the assembler in this directory:
 *
 *  - Salsa20 three blocks at a time, each block's state in four v128 (its diagonals), so a
 *    quarter-round is lane-wise adds, rotates and xors and the row round follows lane rotations
 *    (D. J. Bernstein, "Salsa20 specification", §8–10; the classic SSE layout);
 *  - HSalsa20 (scalar) for the XSalsa20 subkey (Bernstein, "Extending the Salsa20 nonce");
 *  - Poly1305 with five 26-bit limbs (as poly1305-donna-32; RFC 8439 §2.5): four blocks at a time
 *    in i32x4 lanes with r^4 (products by i64x2.extmul), the rest in scalar 64-bit arithmetic;
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

import { DATA, KEY, MAC, MESSAGE, NONCE, POLY_POWERS, POLY_TAIL, SCRATCH, SUBKEY, TAG, ZERO16 } from "./xsalsa20poly1305-layout.ts";

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

// ---------------------------------------------------------------- Salsa20 ×3 (function 1)

/** Blocks per chunk: 3 × 4 state vectors + 3 temporaries fit x64's 16 XMM registers without spills. */
const LANES = 3;
const CHUNK = 64 * LANES;

/**
 * XORs the Salsa20 keystream (key SUBKEY, nonce NONCE[16:24], block counter from 0) over [ptr, ptr+len).
 *
 * Each block is four v128 holding its diagonals, a = (x0 x5 x10 x15), b = (x4 x9 x14 x3),
 * c = (x8 x13 x2 x7), d = (x12 x1 x6 x11): the column round is then one lane-wise quarter-round
 * (b ^= (a+d) <<< 7, c ^= (b+a) <<< 9, d ^= (c+b) <<< 13, a ^= (d+c) <<< 18), and after rotating
 * the lanes of d, c and b by 1, 2 and 3 the row round is the same quarter-round on (a, d, c, b).
 * Three blocks are interleaved for instruction-level parallelism. (Measured on x64 under JSC: the
 * word-sliced four-block layout, 16 state vectors, spilled heavily and was ~25% slower end to end;
 * four blocks here spill too. JSC lowers every SIMD shift through a general register, so fewer
 * live vectors matter more than fewer instructions.)
 */
function salsaXor(): Fn {
  const f = new Fn(null, [i32, i32], []); // (ptr, len)
  const [ptr, len] = [0, 1];
  const blk = (): number[] => Array.from({ length: LANES }, () => f.local(v128));
  const [A, B, C, D, T] = [blk(), blk(), blk(), blk(), blk()];
  const [b0, c0, d0] = [f.local(v128), f.local(v128), f.local(v128)];
  const [p, ctr, round, j] = [f.local(i32), f.local(i32), f.local(i32), f.local(i32)];

  const sigma = (): void => void f.v128const(SIGMA.flatMap((w) => [w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24]));
  /** The initial b, c, d of every block (c's lane 0, the counter, is set per block): lane word addresses, null for 0. */
  const initial = (addrs: (number | null)[], out: number): void => {
    f.v128const(new Array(16).fill(0));
    addrs.forEach((a, lane) => {
      if (a !== null) f.i32const(0).i32load(a).i32x4replaceLane(lane);
    });
    f.set(out);
  };
  const key = (i: number): number => SUBKEY + 4 * i; // x1..x4 = key words 0..3, x11..x14 = 4..7
  initial([key(3), null, key(7), key(2)], b0); // x9, the counter's high word, is 0: messages are far below 2^32 blocks
  initial([null, key(6), key(1), NONCE + 20], c0);
  initial([key(5), key(0), NONCE + 16, key(4)], d0);
  f.i32const(0).set(ctr);
  f.get(ptr).set(p);

  /** x ^= (y + z) <<< r in each block, one block after the other (keeps three temporaries live, not more). */
  const step = (x: number[], y: number[], z: number[], r: number): void => {
    for (let i = 0; i < LANES; i++) {
      f.get(y[i]!).get(z[i]!).i32x4add().set(T[i]!);
      f.get(T[i]!).i32const(r).i32x4shl().get(T[i]!).i32const(32 - r).i32x4shrU().v128or().get(x[i]!).v128xor().set(x[i]!);
    }
  };
  const rotateLanes = (x: number[], lanes: [number, number, number, number]): void => {
    for (let i = 0; i < LANES; i++) f.get(x[i]!).get(x[i]!).shuffle32(lanes).set(x[i]!);
  };
  /** c0 with lane 0 = the counter of block i of this chunk. */
  const cInit = (i: number): void => void f.get(c0).get(ctr).i32const(i).i32add().i32x4replaceLane(0);

  /** LANES keystream blocks (counters ctr, ctr+1, …) into A, B, C, D; ctr += LANES. */
  const blocks = (): void => {
    for (let i = 0; i < LANES; i++) {
      sigma();
      f.set(A[i]!);
      f.get(b0).set(B[i]!);
      cInit(i);
      f.set(C[i]!);
      f.get(d0).set(D[i]!);
    }
    f.i32const(10).set(round);
    f.loop();
    step(B, A, D, 7);
    step(C, B, A, 9);
    step(D, C, B, 13);
    step(A, D, C, 18);
    rotateLanes(D, [1, 2, 3, 0]); // (x1 x6 x11 x12)
    rotateLanes(C, [2, 3, 0, 1]); // (x2 x7 x8 x13)
    rotateLanes(B, [3, 0, 1, 2]); // (x3 x4 x9 x14)
    step(D, A, B, 7);
    step(C, D, A, 9);
    step(B, C, D, 13);
    step(A, B, C, 18);
    rotateLanes(D, [3, 0, 1, 2]);
    rotateLanes(C, [2, 3, 0, 1]);
    rotateLanes(B, [1, 2, 3, 0]);
    f.get(round).i32const(1).i32sub().tee(round).brIf(0);
    f.end();
    for (let i = 0; i < LANES; i++) {
      f.get(A[i]!);
      sigma();
      f.i32x4add().set(A[i]!);
      f.get(B[i]!).get(b0).i32x4add().set(B[i]!);
      f.get(C[i]!);
      cInit(i);
      f.i32x4add().set(C[i]!);
      f.get(D[i]!).get(d0).i32x4add().set(D[i]!);
    }
    f.get(ctr).i32const(LANES).i32add().set(ctr);
  };

  /** Turns block i's diagonals back into rows x0..x3, …, x12..x15 and hands each (16 bytes at 64i + 16row) to `put`. */
  const output = (put: (offset: number, value: () => void) => void): void => {
    for (let i = 0; i < LANES; i++) {
      const [a, b, c, d] = [A[i]!, B[i]!, C[i]!, D[i]!];
      f.get(a).get(d).shuffle32([0, 5, 2, 7]); // (x0 x1 x10 x11)
      f.get(c).get(b).shuffle32([0, 5, 2, 7]); // (x8 x9 x2 x3)
      f.get(b).get(a).shuffle32([0, 5, 2, 7]); // (x4 x5 x14 x15)
      f.get(d).get(c).shuffle32([0, 5, 2, 7]); // (x12 x13 x6 x7)
      f.set(d).set(b).set(c).set(a);
      put(64 * i, () => f.get(a).get(c).shuffle32([0, 1, 6, 7]));
      put(64 * i + 16, () => f.get(b).get(d).shuffle32([0, 1, 6, 7]));
      put(64 * i + 32, () => f.get(c).get(a).shuffle32([0, 1, 6, 7]));
      put(64 * i + 48, () => f.get(d).get(b).shuffle32([0, 1, 6, 7]));
    }
  };

  // Whole chunks: XOR in place.
  f.block().loop();
  f.get(ptr).get(len).i32add().get(p).i32sub().i32const(CHUNK).i32ltU().brIf(1);
  blocks();
  output((off, value) => {
    f.get(p);
    f.get(p).v128load(off);
    value();
    f.v128xor().v128store(off);
  });
  f.get(p).i32const(CHUNK).i32add().set(p);
  f.br(0);
  f.end().end();

  // The rest (< CHUNK bytes): keystream to SCRATCH, then byte by byte.
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

/**
 * Partial reduction of the five 64-bit column sums d[] into 26-bit limbs `out` (the carry out of
 * the top limb re-enters the bottom one ·5, since 2^130 ≡ 5), as poly1305-donna-32 does.
 */
function carryLimbs(f: Fn, d: number[], c: number, out: number[]): void {
  for (let k = 0; k < 5; k++) {
    if (k > 0) f.get(d[k]!).get(c).i64add().set(d[k]!);
    f.get(d[k]!).i64const(26n).i64shrU().set(c);
    f.get(d[k]!).i64const(MASK26).i64and().set(out[k]!);
  }
  f.get(out[0]!).get(c).i64const(5n).i64mul().i64add().set(out[0]!);
  f.get(out[0]!).i64const(26n).i64shrU().set(c);
  f.get(out[0]!).i64const(MASK26).i64and().set(out[0]!);
  f.get(out[1]!).get(c).i64add().set(out[1]!);
}

// ---------------------------------------------------------------- Poly1305 (function 2)

/** Bytes of one set of multipliers at POLY_POWERS: five limbs, then 5× limbs 1..4, one v128 each. */
const POWER_SET = 144;

/**
 * Poly1305 four blocks at a time (Goll–Gueron / poly1305-donna SIMD scheme): lane l of five i32x4
 * accumulators (26-bit limbs) takes blocks 4g + l, h_l = (h_l + m) · r^4, products via
 * i64x2.extmul_{low,high}_i32x4_u; the last group multiplies lane l by r^(4−l) instead, so the
 * lanes' sum is the serial h. Whole groups of four blocks only (len ≥ 64 on entry); leaves the sum
 * in the scalar limbs h, carried, with m and left past the groups, for the scalar code to go on.
 */
function vectorBlocks(f: Fn, v: { r: number[]; h: number[]; d: number[]; c: number; m: number; left: number }): void {
  const { r, h, d, c, m, left } = v;
  const limbs = (): number[] => Array.from({ length: 5 }, () => f.local(i64));
  const [r2, r3, r4] = [limbs(), limbs(), limbs()];
  const vec = (n: number): number[] => Array.from({ length: n }, () => f.local(v128));
  const [H, L, U] = [vec(5), vec(5), vec(5)];
  const [cl, mask32, R, word] = [f.local(v128), f.local(v128), f.local(v128), f.local(v128)];
  const pw = f.local(i32);

  /** out = a · b mod 2^130 − 5, carried as in block() (scalar, once per message). */
  const mulmod = (a: number[], b: number[], out: number[]): void => {
    for (let k = 0; k < 5; k++) {
      for (let i = 0; i < 5; i++) {
        f.get(a[i]!);
        if (i <= k) f.get(b[k - i]!);
        else f.get(b[k - i + 5]!).i64const(5n).i64mul();
        f.i64mul();
        if (i > 0) f.i64add();
      }
      f.set(d[k]!);
    }
    carryLimbs(f, d, c, out);
  };
  mulmod(r, r, r2);
  mulmod(r2, r, r3);
  mulmod(r2, r2, r4);
  // Set 0: r^4 in every lane; set 1 (the last group): r^4, r^3, r^2, r by lane.
  for (let j = 0; j < 5; j++) {
    f.i32const(0).get(r4[j]!).i32wrapI64().i32x4splat().v128store(POLY_POWERS + 16 * j);
    if (j > 0) f.i32const(0).get(r4[j]!).i64const(5n).i64mul().i32wrapI64().i32x4splat().v128store(POLY_POWERS + 64 + 16 * j);
    [r4, r3, r2, r].forEach((p, lane) => {
      f.i32const(0).get(p[j]!).i32wrapI64().i32store(POLY_POWERS + POWER_SET + 16 * j + 4 * lane);
      if (j > 0) f.i32const(0).get(p[j]!).i64const(5n).i64mul().i32wrapI64().i32store(POLY_POWERS + POWER_SET + 64 + 16 * j + 4 * lane);
    });
  }
  /** The multiplier for product h_i · (r^e)_(k−i): limb k−i, or 5× limb k−i+5 when it wraps. */
  const mulOffset = (k: number, i: number): number => (i <= k ? 16 * (k - i) : 64 + 16 * (k - i + 5));

  const m26 = [0xff, 0xff, 0xff, 0x03];
  f.v128const([...m26, ...m26, ...m26, ...m26]).set(mask32);
  for (let k = 0; k < 5; k++) f.v128const(new Array(16).fill(0)).set(H[k]!);

  f.block().loop();
  f.get(left).i32const(64).i32ltU().brIf(1);
  // The multipliers: the last group's when fewer than 64 bytes follow this group (depends on len only).
  f.i32const(POLY_POWERS + POWER_SET).i32const(POLY_POWERS).get(left).i32const(128).i32ltU().select().set(pw);
  // h += the four blocks as 26-bit limbs, lane b from block b: limb k is the 32-bit word at byte
  // 3k of the block, shifted right by 2k and masked (limb 4: the word at byte 12 >> 8, + 2^128).
  for (let k = 0; k < 5; k++) {
    const off = k < 4 ? 3 * k : 12;
    f.get(H[k]!);
    f.get(m).v128load(off); // lane 0 is the word; lanes 1–3 are replaced
    for (let b = 1; b < 4; b++) {
      f.set(word).get(m).get(word).v128load32lane(b, 16 * b + off);
    }
    if (k < 4) {
      if (k > 0) f.i32const(2 * k).i32x4shrU();
      f.get(mask32).v128and();
    } else {
      const hibit = [0, 0, 0, 1];
      f.i32const(8).i32x4shrU().v128const([...hibit, ...hibit, ...hibit, ...hibit]).v128or();
    }
    f.i32x4add().set(H[k]!);
  }

  /** The i32x4 of the low words of two i64x2 (lanes 0, 1 of L[k], then of U[k]): back in block order. */
  const pack = (lo: number, hi: number): void => void f.get(lo).get(hi).shuffle32([0, 2, 4, 6]);
  // d_k = Σ h_i · (r^e)_(k−i) (·5 when wrapping), lanes 0, 1 into L[k], lanes 2, 3 into U[k]; as
  // soon as d_k is complete, its carry goes into d_(k+1) and its low 26 bits into P[k] (i32x4).
  // Bounds: h_i < 2^27 + 2^6 and (r^e)_j < 2^26 + 2^11, so d_k < 2^57.7 and d_4 < 2^55.4 (no ·5
  // terms): the carry out of d_4 is < 2^29.4, and 5× it plus 26 bits fits a 32-bit lane.
  const P = H.map(() => f.local(v128));
  for (let k = 0; k < 5; k++) {
    for (let i = 0; i < 5; i++) {
      if (i > 0) f.get(L[k]!);
      f.get(H[i]!).get(pw).v128load(mulOffset(k, i)).tee(R).i64x2extmulLowI32x4U();
      if (i > 0) f.i64x2add();
      f.set(L[k]!);
      if (i > 0) f.get(U[k]!);
      f.get(H[i]!).get(R).i64x2extmulHighI32x4U();
      if (i > 0) f.i64x2add();
      f.set(U[k]!);
    }
    if (k > 0) {
      for (const D of [L, U]) f.get(D[k]!).get(D[k - 1]!).i32const(26).i64x2shrU().i64x2add().set(D[k]!);
      pack(L[k - 1]!, U[k - 1]!);
      f.get(mask32).v128and().set(P[k - 1]!);
    }
    // Keeps the next limb's multiplier loads from being merged with these (they would stay live).
    f.i32const(0).i32const(0).i32store(POLY_POWERS + 2 * POWER_SET); // (JSC's load CSE)
  }
  f.get(L[4]!).i32const(26).i64x2shrU().get(U[4]!).i32const(26).i64x2shrU().shuffle32([0, 2, 4, 6]).set(cl);
  pack(L[4]!, U[4]!);
  f.get(mask32).v128and().set(H[4]!);
  f.get(P[0]!).get(cl).get(cl).i32const(2).i32x4shl().i32x4add().i32x4add().tee(P[0]!);
  f.i32const(26).i32x4shrU().get(P[1]!).i32x4add().set(H[1]!);
  f.get(P[0]!).get(mask32).v128and().set(H[0]!);
  for (let k = 2; k < 4; k++) f.get(P[k]!).set(H[k]!);
  f.get(m).i32const(64).i32add().set(m);
  f.get(left).i32const(64).i32sub().set(left);
  f.br(0);
  f.end().end();

  // The lanes' sum (each limb < 2^28), carried, into the scalar limbs; the multipliers wiped.
  for (let k = 0; k < 5; k++) {
    for (let lane = 0; lane < 4; lane++) {
      f.get(H[k]!).i32x4extractLane(lane).i64extendI32U();
      if (lane > 0) f.i64add();
    }
    if (k > 0) f.get(c).i64add();
    f.tee(h[k]!).i64const(26n).i64shrU().set(c);
    f.get(h[k]!).i64const(MASK26).i64and().set(h[k]!);
  }
  f.get(h[0]!).get(c).i64const(5n).i64mul().i64add().set(h[0]!);
  f.get(h[0]!).i64const(26n).i64shrU().set(c);
  f.get(h[0]!).i64const(MASK26).i64and().set(h[0]!);
  f.get(h[1]!).get(c).i64add().set(h[1]!);
  for (let o = 0; o < 2 * POWER_SET; o += 16) f.i32const(0).v128const(new Array(16).fill(0)).v128store(POLY_POWERS + o);
}

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
    carryLimbs(f, d, c, h);
  };

  f.get(msg).set(m);
  f.get(len).set(left);
  f.get(left).i32const(64).i32geU().if_();
  vectorBlocks(f, { r, h, d, c, m, left });
  f.end();
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
