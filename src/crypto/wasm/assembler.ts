/**
 * A minimal WebAssembly binary writer: enough to express the crypto kernels in this directory
 * as readable TypeScript that emits instructions, so the module is built at start-up from source
 * (no toolchain, no binary blob in the repository). One memory, i32/i64/v128 locals, the
 * instructions the kernels use. Opcodes: WebAssembly Core Specification 2.0, §5.4.
 */

export const i32 = 0x7f;
export const i64 = 0x7e;
export const v128 = 0x7b;
export type ValType = typeof i32 | typeof i64 | typeof v128;

function uleb(out: number[], n: number): void {
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(out: number[], n: bigint): void {
  for (;;) {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && (b & 0x40) === 0) || (n === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];

/** One function's body, written instruction by instruction. */
export class Fn {
  readonly code: number[] = [];
  private readonly localTypes: ValType[] = [];

  constructor(
    readonly name: string | null,
    readonly params: ValType[],
    readonly results: ValType[],
  ) {}

  /** Parameter i is local i. */
  param(i: number): number {
    return i;
  }

  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  private mem(opcode: number[], align: number, offset: number): this {
    this.code.push(...opcode);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }

  private simd(sub: number): this {
    this.code.push(0xfd);
    uleb(this.code, sub);
    return this;
  }

  // ---- variables and constants
  get(l: number): this {
    this.code.push(0x20);
    uleb(this.code, l);
    return this;
  }
  set(l: number): this {
    this.code.push(0x21);
    uleb(this.code, l);
    return this;
  }
  tee(l: number): this {
    this.code.push(0x22);
    uleb(this.code, l);
    return this;
  }
  i32const(n: number): this {
    this.code.push(0x41);
    sleb(this.code, BigInt(n | 0));
    return this;
  }
  i64const(n: bigint): this {
    this.code.push(0x42);
    sleb(this.code, BigInt.asIntN(64, n));
    return this;
  }

  // ---- control (block types: void only)
  block(): this {
    return this.op(0x02, 0x40);
  }
  loop(): this {
    return this.op(0x03, 0x40);
  }
  if_(): this {
    return this.op(0x04, 0x40);
  }
  else_(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, depth);
  }
  brIf(depth: number): this {
    return this.op(0x0d, depth);
  }
  /** select: the first operand if the i32 condition is non-zero, else the second. */
  select(): this {
    return this.op(0x1b);
  }
  ret(): this {
    return this.op(0x0f);
  }
  /** Calls the function at this index of the module's function list. */
  call(index: number): this {
    this.code.push(0x10);
    uleb(this.code, index);
    return this;
  }

  // ---- memory (offset in bytes; alignment hints 0: the kernels tolerate any address)
  i32load(offset = 0): this {
    return this.mem([0x28], 0, offset);
  }
  i32load8u(offset = 0): this {
    return this.mem([0x2d], 0, offset);
  }
  i64load32u(offset = 0): this {
    return this.mem([0x35], 0, offset);
  }
  i32store(offset = 0): this {
    return this.mem([0x36], 0, offset);
  }
  i32store8(offset = 0): this {
    return this.mem([0x3a], 0, offset);
  }
  i64load(offset = 0): this {
    return this.mem([0x29], 0, offset);
  }
  i64store(offset = 0): this {
    return this.mem([0x37], 0, offset);
  }
  v128load(offset = 0): this {
    this.simd(0x00);
    uleb(this.code, 0);
    uleb(this.code, offset);
    return this;
  }
  v128store(offset = 0): this {
    this.simd(0x0b);
    uleb(this.code, 0);
    uleb(this.code, offset);
    return this;
  }

  // ---- i32
  i32eqz(): this {
    return this.op(0x45);
  }
  i32eq(): this {
    return this.op(0x46);
  }
  i32ltU(): this {
    return this.op(0x49);
  }
  i32geU(): this {
    return this.op(0x4f);
  }
  i32add(): this {
    return this.op(0x6a);
  }
  i32sub(): this {
    return this.op(0x6b);
  }
  i32and(): this {
    return this.op(0x71);
  }
  i32or(): this {
    return this.op(0x72);
  }
  i32xor(): this {
    return this.op(0x73);
  }
  i32shrU(): this {
    return this.op(0x76);
  }
  i32rotl(): this {
    return this.op(0x77);
  }
  i32wrapI64(): this {
    return this.op(0xa7);
  }

  // ---- i64
  i64eqz(): this {
    return this.op(0x50);
  }
  i64add(): this {
    return this.op(0x7c);
  }
  i64sub(): this {
    return this.op(0x7d);
  }
  i64mul(): this {
    return this.op(0x7e);
  }
  i64and(): this {
    return this.op(0x83);
  }
  i64or(): this {
    return this.op(0x84);
  }
  i64xor(): this {
    return this.op(0x85);
  }
  i64shl(): this {
    return this.op(0x86);
  }
  i64shrS(): this {
    return this.op(0x87);
  }
  i64shrU(): this {
    return this.op(0x88);
  }
  i64extendI32U(): this {
    return this.op(0xad);
  }

  // ---- v128
  v128const(bytes: readonly number[]): this {
    if (bytes.length !== 16) throw new RangeError("v128.const takes 16 bytes");
    this.simd(0x0c);
    this.code.push(...bytes);
    return this;
  }
  /** i8x16.shuffle with 32-bit lane indices (0–3 first operand, 4–7 second). */
  shuffle32(lanes: readonly [number, number, number, number]): this {
    this.simd(0x0d);
    for (const l of lanes) for (let b = 0; b < 4; b++) this.code.push(l * 4 + b);
    return this;
  }
  i32x4splat(): this {
    return this.simd(0x11);
  }
  i32x4extractLane(lane: number): this {
    this.simd(0x1b);
    this.code.push(lane);
    return this;
  }
  i32x4replaceLane(lane: number): this {
    this.simd(0x1c);
    this.code.push(lane);
    return this;
  }
  v128and(): this {
    return this.simd(0x4e);
  }
  v128or(): this {
    return this.simd(0x50);
  }
  v128xor(): this {
    return this.simd(0x51);
  }
  i32x4shl(): this {
    return this.simd(0xab);
  }
  i32x4shrU(): this {
    return this.simd(0xad);
  }
  i32x4add(): this {
    return this.simd(0xae);
  }
  i64x2splat(): this {
    return this.simd(0x12);
  }
  i64x2extractLane(lane: number): this {
    this.simd(0x1d);
    this.code.push(lane);
    return this;
  }
  i64x2replaceLane(lane: number): this {
    this.simd(0x1e);
    this.code.push(lane);
    return this;
  }
  i64x2shl(): this {
    return this.simd(0xcb);
  }
  i64x2shrU(): this {
    return this.simd(0xcd);
  }
  i64x2add(): this {
    return this.simd(0xce);
  }
  i64x2sub(): this {
    return this.simd(0xd1);
  }
  i64x2mul(): this {
    return this.simd(0xd5);
  }
  i64x2extendLowI32x4U(): this {
    return this.simd(0xc9);
  }
  i64x2extendHighI32x4U(): this {
    return this.simd(0xca);
  }
  i64x2extmulLowI32x4U(): this {
    return this.simd(0xde);
  }
  i64x2extmulHighI32x4U(): this {
    return this.simd(0xdf);
  }
  /** v128.load32x2_u: two 32-bit words zero-extended into the two 64-bit lanes. */
  v128load32x2u(offset = 0): this {
    this.simd(0x06);
    uleb(this.code, 0);
    uleb(this.code, offset);
    return this;
  }
  /** v128.load32_zero: one 32-bit word into lane 0, the other lanes 0. */
  v128load32zero(offset = 0): this {
    this.simd(0x5c);
    uleb(this.code, 0);
    uleb(this.code, offset);
    return this;
  }
  /** v128.load32_lane: replaces one 32-bit lane of the vector on the stack with a word from memory. */
  v128load32lane(lane: number, offset = 0): this {
    this.simd(0x56);
    uleb(this.code, 0);
    uleb(this.code, offset);
    this.code.push(lane);
    return this;
  }
  /** v128.load64_splat. */
  v128load64splat(offset = 0): this {
    this.simd(0x0a);
    uleb(this.code, 0);
    uleb(this.code, offset);
    return this;
  }

  /** The body as the code section stores it: size, local declarations, instructions, end. */
  encode(): number[] {
    const body: number[] = [];
    const groups: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(body, groups.length);
    for (const [n, t] of groups) {
      uleb(body, n);
      body.push(t);
    }
    body.push(...this.code, 0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    out.push(...body);
    return out;
  }
}

function section(id: number, content: number[]): number[] {
  const out = [id];
  uleb(out, content.length);
  return out.concat(content);
}

function vec(items: number[][]): number[] {
  const out: number[] = [];
  uleb(out, items.length);
  for (const i of items) out.push(...i);
  return out;
}

/** A module of `fns` (exported under their names when named) and one exported memory "memory". */
export function assemble(fns: readonly Fn[], memoryPages: number): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))]);
  const funcs = fns.map((_, i) => {
    const o: number[] = [];
    uleb(o, i);
    return o;
  });
  const mem: number[] = [0x00];
  uleb(mem, memoryPages);
  const name = (s: string): number[] => {
    const o: number[] = [];
    uleb(o, utf8(s).length);
    return o.concat(utf8(s));
  };
  const exports: number[][] = [[...name("memory"), 0x02, 0x00]];
  fns.forEach((f, i) => {
    if (f.name === null) return;
    const e = [...name(f.name), 0x00];
    uleb(e, i);
    exports.push(e);
  });
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(funcs)),
    ...section(5, vec([mem])),
    ...section(7, vec(exports)),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ];
  return new Uint8Array(bytes);
}
