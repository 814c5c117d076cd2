// Bad blocks and bad transmissions (Protocol.hs:tGetParse, tParse, tDecodeServer): a block that
// fails to decrypt, unpad or parse as a batch is answered by ONE `ERR BLOCK` with empty corrId and
// entity, and the connection stays usable; a bad authorization length keeps the corrId.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SMPClient } from "../../src/client/client.ts";
import type { ServerEvent } from "../../src/client/connection.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { batch1 } from "../../src/protocol/batch.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { versionRange } from "../../src/protocol/versions.ts";
import type { BlockEncoder } from "../../src/transport/block-codec.ts";
import { BLOCK_SIZE } from "../../src/transport/block.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { EVENT_WAIT_MS } from "./helpers.ts";

const EMPTY = new Uint8Array(0);
const ERR_BLOCK_EVENT: ServerEvent = { type: "event", entityId: EMPTY, msg: { tag: "ERR", err: ERR.BLOCK } };

let s: TestServer;
const open: SMPClient[] = [];
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.stop();
});

async function connect(v: number): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: s.address, versionRange: versionRange(v, v), timeoutMs: 5000 });
  open.push(c);
  return c;
}

/** The handle's block encoder: used to send a corrupted block while keeping the chains in step. */
function encoderOf(c: SMPClient): BlockEncoder {
  return (c.handle as unknown as { encoder: BlockEncoder }).encoder;
}

/** Exactly one ERR BLOCK event arrives, then the connection still answers PING. */
async function expectOneErrBlock(c: SMPClient): Promise<void> {
  expect(await c.nextEvent(EVENT_WAIT_MS)).toEqual(ERR_BLOCK_EVENT);
  await c.ping();
  await expect(c.nextEvent(50)).rejects.toThrow("no event");
}

function pingTransmission(corrId: Uint8Array, authLen = 0): Uint8Array {
  const w = new Writer(256);
  w.short(new Uint8Array(authLen)).short(corrId).short(EMPTY).ascii("PING");
  return w.toBytes();
}

describe("ERR BLOCK on bad blocks (Transport.hs:tGetBlock, Protocol.hs:tGetParse)", () => {
  test("v20: a block that fails to decrypt (chain key advanced, one byte flipped)", async () => {
    const c = await connect(20);
    expect(c.handle.blockEncryption).toBe(true);
    for (let i = 0; i < 3; i++) {
      const block = encoderOf(c).encode(batch1(pingTransmission(crypto.getRandomValues(new Uint8Array(24)))));
      block[i * 5000 + 7]! ^= 0x40;
      c.handle.transport.writeBlock(block);
      await expectOneErrBlock(c);
    }
  });

  test("v20: a block of random bytes", async () => {
    const c = await connect(20);
    const block = crypto.getRandomValues(new Uint8Array(BLOCK_SIZE));
    // The server's receive chain advances for this block too (Transport.hs:tGetBlock): keep ours in step.
    encoderOf(c).encode(EMPTY);
    c.handle.transport.writeBlock(block);
    await expectOneErrBlock(c);
  });

  test("v10: a block that does not unpad (length prefix beyond the block)", async () => {
    const c = await connect(10);
    expect(c.handle.blockEncryption).toBe(false);
    const block = new Uint8Array(BLOCK_SIZE).fill(0x23);
    block[0] = 0xff;
    block[1] = 0xff;
    c.handle.transport.writeBlock(block);
    await expectOneErrBlock(c);
  });

  for (const v of [6, 20]) {
    test(`v${v}: payloads that are not a batch: count 0, short items, trailing bytes, empty`, async () => {
      const c = await connect(v);
      const t = pingTransmission(crypto.getRandomValues(new Uint8Array(24)));
      const good = batch1(t);
      const bad = [
        Uint8Array.of(0),
        Uint8Array.of(2, ...good.subarray(1)), // count says 2, holds 1
        Uint8Array.of(...good, 0), // a byte after the last item
        good.subarray(0, good.length - 1), // last item shorter than its length
        EMPTY,
      ];
      for (const p of bad) {
        c.sendRawPayload(p);
        await expectOneErrBlock(c);
      }
    });
  }

  test("an unparsable transmission among good ones: ERR BLOCK for it alone, the others answered in order", async () => {
    const c = await connect(20);
    const corrA = crypto.getRandomValues(new Uint8Array(24));
    const corrB = crypto.getRandomValues(new Uint8Array(24));
    const a = pingTransmission(corrA);
    const junk = Uint8Array.of(5, 1, 2); // auth says 5 bytes, 2 follow
    const b = pingTransmission(corrB);
    const w = new Writer(512);
    w.byte(3);
    for (const t of [a, junk, b]) w.word16(t.length).bytes(t);
    const pa = c.expectResponse(corrA, EMPTY);
    const pb = c.expectResponse(corrB, EMPTY);
    c.sendRawPayload(w.toBytes());
    expect((await pa).tag).toBe("PONG");
    expect(await c.nextEvent(EVENT_WAIT_MS)).toEqual(ERR_BLOCK_EVENT);
    expect((await pb).tag).toBe("PONG");
  });
});

describe("bad authorization length (Protocol.hs:decodeTAuthBytes)", () => {
  for (const v of [6, 10, 20]) {
    for (const len of [1, 32, 63, 65, 79, 81, 113, 115, 255]) {
      test(`v${v}: ${len}-byte authorization → ERR BLOCK with the corrId kept, entity empty`, async () => {
        const c = await connect(v);
        const corrId = crypto.getRandomValues(new Uint8Array(24));
        const w = new Writer(1024);
        w.short(new Uint8Array(len).fill(9));
        if (v >= 16) w.byte(0x30); // service-signature slot: Nothing
        if (v < 7) w.short(c.sessionId);
        w.short(corrId).short(EMPTY).ascii("PING");
        const p = c.expectResponse(corrId, EMPTY);
        c.sendRawPayload(batch1(w.toBytes()));
        expect(await p).toEqual({ tag: "ERR", err: ERR.BLOCK });
        await c.ping();
      });
    }
  }
});
