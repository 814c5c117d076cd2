/**
 * Parser over a byte range of a (usually preallocated) buffer: the SMP binary encoding of
 * simplexmq `Encoding.hs` (`smpP`). Reading advances `pos`; nothing is copied unless a caller
 * copies a returned view. A malformed input throws `ParseError`, which callers map to the
 * protocol error of their layer (CMD SYNTAX, BLOCK, HANDSHAKE PARSE …).
 */
export class ParseError extends Error {
  override name = "ParseError";
}

const SP = 0x20;

export class Reader {
  buf: Uint8Array;
  pos: number;
  end: number;
  private view: DataView;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Re-point the reader at another range without allocating (hot path). */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    if (buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = start;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** `parseAll`: the whole input must be consumed. */
  expectEnd(): void {
    if (this.pos !== this.end) throw new ParseError("trailing bytes");
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new ParseError("not enough input");
  }

  peek(): number {
    this.need(1);
    return this.buf[this.pos]!;
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  /** Expects one exact byte, e.g. the SP before command parameters (`_smpP`). */
  expect(b: number): void {
    if (this.byte() !== b) throw new ParseError("unexpected byte");
  }

  space(): void {
    this.expect(SP);
  }

  word16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  word32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** Int64 as a JS number: exact for |v| < 2^53, which covers timestamps and counts. */
  int64(): number {
    this.need(8);
    const hi = this.view.getInt32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  int64Big(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    return v;
  }

  /** 'T' / 'F' (`Encoding Bool`). */
  bool(): boolean {
    const b = this.byte();
    if (b === 0x54) return true;
    if (b === 0x46) return false;
    throw new ParseError("bad Bool");
  }

  /** `Maybe` tag: '1' = Just, '0' = Nothing. Returns whether a value follows. */
  maybe(): boolean {
    const b = this.byte();
    if (b === 0x31) return true;
    if (b === 0x30) return false;
    throw new ParseError("bad Maybe");
  }

  /** `n` raw bytes as a view into the buffer. */
  take(n: number): Uint8Array {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** `ByteString` (1-byte length prefix). */
  short(): Uint8Array {
    return this.take(this.byte());
  }

  /** `Large` (Word16 length prefix). */
  large(): Uint8Array {
    return this.take(this.word16());
  }

  /** `Tail`: the rest of the input. */
  tail(): Uint8Array {
    const v = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return v;
  }

  /** Bytes up to (not including) the next SP or the end; the SP is not consumed. */
  token(): Uint8Array {
    const start = this.pos;
    let i = start;
    const buf = this.buf;
    while (i < this.end && buf[i] !== SP) i++;
    this.pos = i;
    return buf.subarray(start, i);
  }
}
