// The server's response batching (Protocol.hs:batchTransmissions_): one flush packs consecutive
// responses into blocks while Σ(2 + len) ≤ 16365 and count ≤ 255, in order; a response that can
// never fit a block is dropped (TELargeMsg) without taking the others with it.
import { describe, expect, test } from "bun:test";
import { BatchCursor } from "../../src/protocol/batch.ts";
import { MSG_, type BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { transmissionParams } from "../../src/protocol/transmission.ts";
import { Outbox } from "../../src/server/outbox.ts";
import type { ServerAuth, SmpHandle } from "../../src/transport/handle.ts";

function capture(version: number) {
  const payloads: Uint8Array[] = [];
  const handle = {
    params: transmissionParams(version, new Uint8Array(32).fill(1)),
    writePayload(p: Uint8Array): boolean {
      payloads.push(p.slice());
      return true;
    },
  } as unknown as SmpHandle<ServerAuth>;
  return { outbox: new Outbox(handle), payloads };
}

function items(p: Uint8Array): number[] {
  const c = new BatchCursor();
  expect(c.open(p)).toBe(true);
  const sizes: number[] = [];
  while (c.next()) sizes.push(c.end - c.start);
  return sizes;
}

const corr = (i: number) => {
  const b = new Uint8Array(24);
  new DataView(b.buffer).setUint32(0, i);
  return b;
};

describe("Outbox.flush packing", () => {
  test("600 small responses in one flush: blocks of 255, 255, 90", () => {
    const { outbox, payloads } = capture(20);
    for (let i = 0; i < 600; i++) outbox.push(corr(i), new Uint8Array(0), MSG_.PONG);
    outbox.flush();
    expect(payloads.map((p) => items(p).length)).toEqual([255, 255, 90]);
    expect(outbox.size).toBe(0);
  });

  test("large responses: each block stays within 16365 bytes and is filled greedily, order kept", () => {
    const { outbox, payloads } = capture(20);
    const msgs: BrokerMsg[] = [];
    for (let i = 0; i < 40; i++) {
      const m: BrokerMsg = { tag: "MSG", msgId: corr(i), body: new Uint8Array(1000 + ((i * 977) % 7000)) };
      msgs.push(m);
      outbox.push(corr(i), new Uint8Array(24).fill(2), m);
    }
    outbox.flush();
    const sizes = payloads.map(items);
    const sum = (xs: number[]) => xs.reduce((a, x) => a + 2 + x, 0);
    for (const s of sizes) expect(sum(s)).toBeLessThanOrEqual(16365);
    for (let i = 1; i < sizes.length; i++) expect(sum(sizes[i - 1]!) + 2 + sizes[i]![0]!).toBeGreaterThan(16365);
    expect(sizes.flat().length).toBe(40);
    // In order: the corrId (after the empty auth byte and its length byte) counts up.
    const seen: number[] = [];
    for (const p of payloads) {
      const c = new BatchCursor();
      c.open(p);
      while (c.next()) seen.push(new DataView(p.buffer, p.byteOffset + c.start + 2, 4).getUint32(0));
    }
    expect(seen).toEqual(msgs.map((_, i) => i));
  });

  test("a response too large for any block is dropped; its neighbours are sent", () => {
    const { outbox, payloads } = capture(20);
    outbox.push(corr(1), new Uint8Array(0), MSG_.PONG);
    outbox.push(corr(2), new Uint8Array(24), { tag: "MSG", msgId: corr(2), body: new Uint8Array(16_400) });
    outbox.push(corr(3), new Uint8Array(0), MSG_.PONG);
    outbox.flush();
    expect(payloads.map((p) => items(p).length)).toEqual([2]);
  });
});
