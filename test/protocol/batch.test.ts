// Batched block payloads: `count ‖ Large(t)×count` (Protocol.hs:batchTransmissions_, tParse), using the
// 18 batch vectors of transmissions.json and the packing limits of §2.8 of the digest.
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import { BatchCursor, BatchPacker, BATCH_PAYLOAD_BUDGET, batchTransmissions } from "../../src/protocol/batch.ts";
import { parseServerTransmission, parseTransmission, transmissionParams } from "../../src/protocol/transmission.ts";
import { TX, hex, toHex } from "./helpers.ts";

const sid = hex(TX.session_id);

describe("batch vectors", () => {
  for (const vv of TX.versions) {
    const p = transmissionParams(vv.version, sid);
    test(`v${vv.version} client batch: GET, ACK, PING`, () => {
      const block = hex(vv.batched_block_client.block_payload);
      const cur = new BatchCursor();
      expect(cur.open(block)).toBe(true);
      expect(cur.count).toBe(3);
      const tags: string[] = [];
      const r = new Reader(block);
      while (cur.next()) {
        const t = parseTransmission(block, cur.start, cur.end, p, r);
        expect(t.error).toBeNull();
        tags.push(t.command!.tag);
      }
      expect(tags).toEqual(["GET", "ACK", "PING"]);
    });
    test(`v${vv.version} server batch: OK, MSG, PONG repacked`, () => {
      const block = hex(vv.batched_block_server.block_payload);
      const cur = new BatchCursor();
      expect(cur.open(block)).toBe(true);
      const ts: Uint8Array[] = [];
      const tags: string[] = [];
      const r = new Reader(block);
      while (cur.next()) {
        const got = parseServerTransmission(block, cur.start, cur.end, p, r);
        expect(got.error).toBeNull();
        tags.push(got.msg!.tag);
        ts.push(block.slice(cur.start, cur.end));
      }
      expect(tags).toEqual(["OK", "MSG", "PONG"]);
      const { payloads, tooLarge } = batchTransmissions(ts);
      expect(tooLarge).toEqual([]);
      expect(payloads.map(toHex)).toEqual([vv.batched_block_server.block_payload]);
    });
  }
});

describe("malformed payloads are one ERR BLOCK (tParse: parse smpP TEBadBlock)", () => {
  const cur = new BatchCursor();
  test("empty, zero count, short item, trailing byte, missing item", () => {
    expect(cur.open(new Uint8Array(0))).toBe(false);
    expect(cur.open(Uint8Array.of(0))).toBe(false);
    expect(cur.open(Uint8Array.of(1, 0, 5, 1, 2))).toBe(false);
    expect(cur.open(Uint8Array.of(1, 0, 1, 9, 0))).toBe(false);
    expect(cur.open(Uint8Array.of(2, 0, 1, 9))).toBe(false);
    expect(cur.open(Uint8Array.of(1, 0, 1, 9))).toBe(true);
    expect(cur.open(Uint8Array.of(1, 0, 0))).toBe(true); // an empty transmission frames fine; it fails later as BLOCK
  });
});

describe("packing limits: Σ(2 + len) ≤ 16365 and count < 255 (Protocol.hs:batchTransmissions_)", () => {
  test("exactly the budget fits in one block, one byte more does not", () => {
    const a = new Uint8Array(8000);
    const b = new Uint8Array(BATCH_PAYLOAD_BUDGET - 2 - 8000 - 2);
    const one = batchTransmissions([a, b]);
    expect(one.payloads.length).toBe(1);
    expect(one.payloads[0]!.length).toBe(1 + BATCH_PAYLOAD_BUDGET);
    const two = batchTransmissions([a, new Uint8Array(b.length + 1)]);
    expect(two.payloads.length).toBe(2);
  });
  test("at most 255 transmissions per block", () => {
    const ts = Array.from({ length: 300 }, () => Uint8Array.of(0, 0, 0));
    const { payloads } = batchTransmissions(ts);
    expect(payloads.map((p) => p[0])).toEqual([255, 45]);
  });
  test("a transmission larger than a block is reported and skipped", () => {
    const packer = new BatchPacker();
    expect(packer.add(new Uint8Array(BATCH_PAYLOAD_BUDGET - 1))).toBe("too-large");
    expect(packer.add(new Uint8Array(BATCH_PAYLOAD_BUDGET - 2))).toBe("added");
    expect(packer.add(new Uint8Array(0))).toBe("full");
    const r = batchTransmissions([Uint8Array.of(1), new Uint8Array(20000), Uint8Array.of(2)]);
    expect(r.tooLarge).toEqual([1]);
    expect(r.payloads.map(toHex)).toEqual(["02" + "000101" + "000102"]);
  });
});
