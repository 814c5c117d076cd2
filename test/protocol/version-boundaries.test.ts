// Every command and response at the versions the reference vectors do not include (8, 10, 12, 13,
// 14, 18), including the versions where a response changes shape (DELD from v10, BLOCKED from v12,
// its notice from v18). Expected bytes come from the vectors of a version on the same side of every
// version switch that applies to that message, per Protocol.hs:encodeProtocol (Command p, BrokerMsg)
// and Protocol.hs:tEncode / encodeTransmission (session id below v7, service-signature slot from v16).
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { parseBrokerMsg } from "../../src/protocol/broker-messages.ts";
import { parseCommand } from "../../src/protocol/commands.ts";
import { encodeResponse, encodeTransmission, encodeTransmissionForAuth, transmissionParams } from "../../src/protocol/transmission.ts";
import { TX, V20, hex, toHex, encode } from "./helpers.ts";

const sid = hex(TX.session_id);
const VECTOR_VERSIONS = TX.versions.map((v) => v.version);
const MISSING = [8, 10, 12, 13, 14, 18];

// Transport.hs version constants at which an encoding switches (Protocol.hs:encodeProtocol).
const implySessId = 7; // authCmdsSMPVersion
const serviceAuth = 16; // serviceCertsSMPVersion

function responseSwitches(name: string): number[] {
  const s = [implySessId];
  if (name.startsWith("IDS")) s.push(9, 15, 16, 17); // sndAuthKey, shortLinks, serviceCerts, newNtfCreds
  if (name.startsWith("SOK ")) s.push(16); // SOK → OK below serviceCerts
  if (name === "SOKS" || name === "ENDS") s.push(19); // rcvService: IdsHash
  if (name === "DELD") s.push(10); // deletedEvent: END before
  if (name.startsWith("ERR BLOCKED")) s.push(12, 18); // blockedEntity: AUTH before; clientNotices: notice
  return s;
}

function commandSwitches(name: string): number[] {
  const s = [implySessId, serviceAuth];
  if (name.startsWith("NEW")) s.push(9, 15, 17); // sndAuthKey, shortLinks, newNtfCreds
  if (name === "SUBS" || name === "NSUBS") s.push(19); // rcvService: (count, hash)
  return s;
}

/** A vector version on the same side of every switch as v that has a vector of this name. */
function sameEncodingVersion(v: number, switches: number[], has: (u: number) => boolean): number {
  const side = (x: number) => switches.map((t) => x >= t).join();
  const u = VECTOR_VERSIONS.find((x) => side(x) === side(v) && has(x));
  if (u === undefined) throw new Error(`no vector version like v${v}`);
  return u;
}

const vectors = (u: number) => TX.versions.find((x) => x.version === u)!;

describe("responses at the versions without vectors (the v20 value encoded for that version)", () => {
  for (const v of MISSING) {
    const p = transmissionParams(v, sid);
    for (const m20 of V20.broker_messages) {
      const u = sameEncodingVersion(v, responseSwitches(m20.name), (x) => vectors(x).broker_messages.some((m) => m.name === m20.name));
      test(`v${v} ${m20.name} = v${u} vector`, () => {
        const expected = vectors(u).broker_messages.find((m) => m.name === m20.name)!;
        const msg = parseBrokerMsg(new Reader(hex(m20.message)), 20);
        expect(toHex(encode((w) => encodeResponse(w, p, hex(m20.corr_id), hex(m20.entity_id), msg)))).toBe(expected.transmission);
      });
    }
  }

  test("the switches themselves: DELD at v9/v10, BLOCKED at v11/v12, its notice at v17/v18", () => {
    const at = (name: string, v: number) => {
      const m20 = V20.broker_messages.find((m) => m.name === name)!;
      const msg = parseBrokerMsg(new Reader(hex(m20.message)), 20);
      return Buffer.from(encode((w) => encodeResponse(w, transmissionParams(v, sid), new Uint8Array(0), new Uint8Array(0), msg)).subarray(3)).toString("latin1");
    };
    expect([at("DELD", 9), at("DELD", 10)]).toEqual(["END", "DELD"]);
    expect([at("ERR BLOCKED content, notice ttl=3600", 11), at("ERR BLOCKED content, notice ttl=3600", 12)]).toEqual(["ERR AUTH", "ERR BLOCKED reason=content"]);
    expect([at("ERR BLOCKED content, notice ttl=3600", 17), at("ERR BLOCKED content, notice ttl=3600", 18)]).toEqual([
      "ERR BLOCKED reason=content",
      'ERR BLOCKED reason=content,notice={"ttl":3600}',
    ]);
  });
});

describe("commands at the versions without vectors (the v20 command encoded for that version)", () => {
  for (const v of MISSING) {
    const p = transmissionParams(v, sid);
    for (const c20 of V20.commands) {
      // Service signatures exist from v16 (service sessions); everything else at every version.
      if (v < serviceAuth && c20.service_signed) continue;
      const has = (x: number) => vectors(x).commands.some((c) => c.name === c20.name);
      const u = sameEncodingVersion(v, commandSwitches(c20.name), has);
      test(`v${v} ${c20.name} = v${u} vector`, () => {
        const expected = vectors(u).commands.find((c) => c.name === c20.name)!;
        const cmd = parseCommand(new Reader(hex(c20.command)), 20);
        const fa = encodeTransmissionForAuth(p, new Writer(), hex(c20.corr_id), hex(c20.entity_id), cmd);
        expect(toHex(fa.authorized)).toBe(expected.authorized);
        // Same authorized bytes → the reference's signature of that version applies here.
        const serviceSig = expected.service_signature === null ? null : hex(expected.service_signature);
        expect(toHex(encode((w) => encodeTransmission(w, p, hex(expected.authenticator), serviceSig, fa.toSend)))).toBe(expected.transmission);
      });
    }
  }
});
