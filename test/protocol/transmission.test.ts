// Client commands of transmissions.json (all 9 versions): server-side parse of the block payload and
// client-side encoding, compared byte for byte with the reference (Protocol.hs:transmissionP, tDecodeServer,
// encodeTransmissionForAuth, tEncode, tEncodeBatch1).
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { concat } from "../../src/encoding/bytes.ts";
import { BatchCursor, batch1 } from "../../src/protocol/batch.ts";
import {
  encodeTransmission,
  encodeTransmissionForAuth,
  parseTransmission,
  transmissionParams,
  type TransmissionParams,
} from "../../src/protocol/transmission.ts";
import { encodeCommand, parseCommand, type Command } from "../../src/protocol/commands.ts";
import { TX, V20, hex, toHex, encode, type CommandVector } from "./helpers.ts";

const sid = hex(TX.session_id);

function paramsFor(v: number): TransmissionParams {
  return transmissionParams(v, sid);
}

function parseVector(c: CommandVector, p: TransmissionParams) {
  const block = hex(c.block_payload); // fresh copy: parsing writes the session-id prefix in place
  const cur = new BatchCursor();
  expect(cur.open(block)).toBe(true);
  expect(cur.count).toBe(1);
  expect(cur.next()).toBe(true);
  const t = parseTransmission(block, cur.start, cur.end, p, new Reader(block));
  expect(cur.next()).toBe(false);
  return t;
}

describe("commands: server-side parse of every vector", () => {
  for (const vv of TX.versions) {
    const p = paramsFor(vv.version);
    test(`v${vv.version}: params match the reference handshake`, () => {
      expect(p.implySessId).toBe(vv.params.implySessId);
      expect(p.serviceAuth).toBe(vv.params.serviceAuth);
    });
    for (const c of vv.commands) {
      test(`v${vv.version} ${c.name}`, () => {
        const t = parseVector(c, p);
        expect(t.error).toBeNull();
        expect(toHex(t.corrId)).toBe(c.corr_id);
        expect(toHex(t.entityId)).toBe(c.entity_id);
        expect(toHex(t.auth)).toBe(c.authenticator);
        expect(t.authKind).toBe(
          c.authenticator.length === 0 ? "none" : c.authenticator.length === 160 ? "authenticator" : "ed25519",
        );
        expect(t.serviceSig === null ? null : toHex(t.serviceSig)).toBe(c.service_signature);
        if (c.authenticator.length > 0) {
          expect(toHex(t.authorized!)).toBe(c.authorized);
        } else {
          expect(t.authorized).toBeNull();
        }
        // Re-encoding the parsed command gives the reference's encodeProtocol bytes.
        expect(toHex(encode((w) => encodeCommand(w, t.command!, vv.version)))).toBe(c.command);
      });
    }
  }
});

describe("commands: client-side encoding of every vector", () => {
  for (const vv of TX.versions) {
    const p = paramsFor(vv.version);
    for (const c of vv.commands) {
      test(`v${vv.version} ${c.name}`, () => {
        const cmd = parseCommand(new Reader(hex(c.command)), vv.version);
        const fa = encodeTransmissionForAuth(p, new Writer(), hex(c.corr_id), hex(c.entity_id), cmd);
        expect(toHex(fa.authorized)).toBe(c.authorized);
        expect(toHex(fa.toSend)).toBe(c.to_send);
        const sig = c.service_signature === null ? null : hex(c.service_signature);
        const t = encode((w) => encodeTransmission(w, p, hex(c.authenticator), sig, fa.toSend));
        expect(toHex(t)).toBe(c.transmission);
        expect(toHex(batch1(t))).toBe(c.block_payload);
      });
    }
  }
});

describe("commands: the v20 command encoded at each older version equals that version's vector", () => {
  // Fields a version cannot carry are dropped by the encoder (Protocol.hs:encodeProtocol NEW/SUBS/NSUBS),
  // so the v20 command value encodes to every older vector of the same name.
  const v20 = new Map<string, Command>();
  for (const c of V20.commands) v20.set(c.name, parseCommand(new Reader(hex(c.command)), 20));
  for (const vv of TX.versions) {
    for (const c of vv.commands) {
      test(`v${vv.version} ${c.name}`, () => {
        const cmd = v20.get(c.name)!;
        expect(toHex(encode((w) => encodeCommand(w, cmd, vv.version)))).toBe(c.command);
      });
    }
  }
});

test("in-place authorized bytes: the session-id prefix sits right before the body, the body is untouched", () => {
  const c = V20.commands.find((x) => x.name === "SEND signed, notification=T")!;
  const block = hex(c.block_payload);
  const cur = new BatchCursor();
  cur.open(block);
  cur.next();
  const t = parseTransmission(block, cur.start, cur.end, paramsFor(20), new Reader(block));
  expect(t.authorized!.buffer).toBe(block.buffer); // a view, not a copy
  expect(t.authorized!.byteOffset + t.authorized!.length).toBe(cur.end);
  expect(toHex(t.authorized!)).toBe(c.authorized);
  const body = t.command!.tag === "SEND" ? t.command!.body : new Uint8Array();
  expect(Buffer.from(body).toString()).toBe("hello, signed");
  // What was overwritten was the authorization, which is kept as an owned copy.
  expect(toHex(t.auth)).toBe(c.authenticator);
  expect(toHex(concat(Uint8Array.of(sid.length), sid, hex(c.to_send)))).toBe(c.authorized);
});
