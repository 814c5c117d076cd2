/**
 * Outgoing block recycling in BlockTransport: a written block goes back to the pool only after
 * the stream reports it consumed (onWritten(true)), never after a failed write, never from a
 * stream that does not track writes, and never when it was not written as recyclable.
 */
import { expect, test } from "bun:test";
import { BLOCK_SIZE, BlockTransport, takeOutgoingBlock } from "../../src/transport/block.ts";
import type { StreamHandlers, TransportStream } from "../../src/transport/stream.ts";

class HoldingStream implements TransportStream {
  readonly sessionId = new Uint8Array(32);
  readonly alpn = null;
  readonly peerCertificateChain = [];
  handlers: StreamHandlers | null = null;
  readonly written: Uint8Array[] = [];
  constructor(readonly tracksWrites: boolean) {}
  setHandlers(h: StreamHandlers): void {
    this.handlers = h;
  }
  write(data: Uint8Array): boolean {
    this.written.push(data);
    return true;
  }
  report(ok: boolean): void {
    this.handlers!.onWritten?.(ok);
  }
  pause(): void {}
  resume(): void {}
  close(): void {}
}

/** Takes n blocks from the pool (and keeps them, so the pool is empty again). */
const drainPool = (n: number): Uint8Array[] => Array.from({ length: n }, () => takeOutgoingBlock());

test("a block is reused only after the stream reported it consumed", () => {
  drainPool(200);
  const s = new HoldingStream(true);
  const t = new BlockTransport(s);
  const a = takeOutgoingBlock();
  const b = takeOutgoingBlock();
  t.writeBlock(a, true);
  t.writeBlock(b, true);
  // neither reported yet: the pool must hand out other buffers
  const c = takeOutgoingBlock();
  expect(c).not.toBe(a);
  expect(c).not.toBe(b);
  s.report(true); // a's write (reports come in write order)
  expect(takeOutgoingBlock()).toBe(a);
  const d = takeOutgoingBlock();
  expect(d).not.toBe(b);
  s.report(true);
  expect(takeOutgoingBlock()).toBe(b);
  expect(a.length).toBe(BLOCK_SIZE);
});

test("a failed write, a non-recyclable block, and a closed transport recycle nothing", () => {
  drainPool(200);
  const s = new HoldingStream(true);
  const t = new BlockTransport(s);
  const failed = takeOutgoingBlock();
  const handshake = new Uint8Array(BLOCK_SIZE);
  const pending = takeOutgoingBlock();
  t.writeBlock(failed, true);
  t.writeBlock(handshake); // not from the pool
  t.writeBlock(pending, true);
  s.report(false);
  s.report(true);
  const taken = drainPool(3);
  expect(taken).not.toContain(failed);
  expect(taken).not.toContain(handshake);
  t.close(); // `pending` may still be inside the TLS layer
  s.report(true);
  expect(drainPool(3)).not.toContain(pending);
});

test("a stream that does not track writes never gets a block reused", () => {
  drainPool(200);
  const s = new HoldingStream(false);
  const t = new BlockTransport(s);
  const a = takeOutgoingBlock();
  t.writeBlock(a, true);
  s.report(true); // a stray report must not recycle it either
  expect(drainPool(3)).not.toContain(a);
});
