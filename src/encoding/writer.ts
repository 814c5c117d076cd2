/**
 * Encoder into a growable buffer: the SMP binary encoding of simplexmq `Encoding.hs`
 * (`smpEncode`). On the hot path one Writer is reused per connection (`reset()`), so encoding
 * a transmission allocates nothing once the buffer has grown to its working size.
 */
export class Writer {
  buf: Uint8Array;
  pos = 0;
  private view: DataView;

  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  reset(): this {
    this.pos = 0;
    return this;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** View of what was written so far (valid until the next write or reset). */
  view_(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Copy of what was written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  byte(b: number): this {
    this.ensure(1);
    this.buf[this.pos++] = b;
    return this;
  }

  space(): this {
    return this.byte(0x20);
  }

  word16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }

  word32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }

  /** Int64 from a JS number (exact for |v| < 2^53). */
  int64(v: number): this {
    this.ensure(8);
    const hi = Math.floor(v / 0x1_0000_0000);
    this.view.setInt32(this.pos, hi);
    this.view.setUint32(this.pos + 4, v - hi * 0x1_0000_0000);
    this.pos += 8;
    return this;
  }

  int64Big(v: bigint): this {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.byte(v ? 0x54 : 0x46);
  }

  /** `Maybe` tag only; the caller writes the value after `maybe(true)`. */
  maybe(present: boolean): this {
    return this.byte(present ? 0x31 : 0x30);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** ASCII text written byte for byte (tags, fixed words). */
  ascii(s: string): this {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.pos++] = s.charCodeAt(i) & 0xff;
    return this;
  }

  /**
   * `ByteString` with a 1-byte length. The reference wraps lengths > 255 silently
   * (Encoding.hs:lenEncode); we refuse them instead, since such bytes cannot be parsed back.
   */
  short(b: Uint8Array): this {
    if (b.length > 255) throw new RangeError(`short string too long: ${b.length}`);
    this.byte(b.length);
    return this.bytes(b);
  }

  /** `Large` with a Word16 length. */
  large(b: Uint8Array): this {
    if (b.length > 0xffff) throw new RangeError(`large string too long: ${b.length}`);
    this.word16(b.length);
    return this.bytes(b);
  }

  /** Reserve a Word16 length slot; fill it with `patchLarge` once the content is written. */
  reserveWord16(): number {
    this.ensure(2);
    const at = this.pos;
    this.pos += 2;
    return at;
  }

  patchWord16(at: number, v: number): void {
    this.view.setUint16(at, v);
  }
}
