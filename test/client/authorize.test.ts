// Client-side transmission encoding and authorization against transmissions.json: the bytes
// Client.hs:mkTransmission_ / authTransmission and Protocol.hs:tEncode / tEncodeBatch1 produced in
// the reference for fixed keys, corrIds and session.
import { describe, expect, test } from "bun:test";
import { loadVectors, hex, toHex } from "../vectors.ts";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { publicKey } from "../../src/crypto/keys.ts";
import { batch1 } from "../../src/protocol/batch.ts";
import { parseCommand, type Command } from "../../src/protocol/commands.ts";
import { transmissionParams } from "../../src/protocol/transmission.ts";
import { TransmissionEncoder, type AuthKey } from "../../src/client/authorize.ts";
import { SMPClientError } from "../../src/client/errors.ts";

const T = loadVectors("transmissions.json");
const keyOf = (label: string) => T.keys.find((k: any) => k.label === label);
const sessionId = hex(T.session_id);
const serverKey = hex(keyOf("server-session-x25519").public_raw);
const service = {
  certHash: hex(T.ids.service_cert_fingerprint),
  sessionKey: new SignPrivateKey("ed25519", hex(keyOf("service-session-ed25519").private_raw)),
};

function authKey(label: string | null): AuthKey | null {
  if (label === null) return null;
  const k = keyOf(label);
  const raw = hex(k.private_raw);
  if (k.algorithm === "X25519") return new DhPrivateKey(raw);
  return new SignPrivateKey(k.algorithm === "Ed448" ? "ed448" : "ed25519", raw);
}

function encodeOne(version: number, corrId: Uint8Array, entityId: Uint8Array, cmd: Command, key: AuthKey | null, withService: boolean): Uint8Array {
  const enc = new TransmissionEncoder(transmissionParams(version, sessionId), serverKey, withService ? service : null);
  const w = new Writer(64);
  enc.encode(w, corrId, entityId, cmd, key);
  return w.toBytes();
}

describe("every vectored command at every version encodes to the reference transmission", () => {
  for (const v of T.versions) {
    test(`v${v.version} (${v.commands.length} commands)`, () => {
      for (const c of v.commands) {
        // The Command value comes from the reference's own command bytes.
        const cmd = parseCommand(new Reader(hex(c.command)), v.version);
        const t = encodeOne(v.version, hex(c.corr_id), hex(c.entity_id), cmd, authKey(c.auth_key), c.service_signed);
        expect({ name: c.name, t: toHex(t) }).toEqual({ name: c.name, t: c.transmission });
        expect({ name: c.name, b: toHex(batch1(t)) }).toEqual({ name: c.name, b: c.block_payload });
      }
    });
  }
});

describe("hand-built commands", () => {
  const sndId = hex(T.ids.sndId);
  const rcvId = hex(T.ids.rcvId);
  const find = (version: number, name: string) => T.versions.find((x: any) => x.version === version).commands.find((c: any) => c.name === name);
  const send = (body: string, notification: boolean): Command => ({ tag: "SEND", flags: { notification }, body: new TextEncoder().encode(body) });

  for (const version of [6, 20]) {
    test(`v${version}: SEND signed with Ed25519 (Client.hs:authTransmission sign)`, () => {
      const c = find(version, "SEND signed, notification=T");
      const t = encodeOne(version, hex(c.corr_id), sndId, send("hello, signed", true), authKey("snd-auth-ed25519"), false);
      expect(toHex(t)).toBe(c.transmission);
      expect(toHex(t.subarray(1, 65))).toBe(c.authenticator);
    });
  }

  for (const version of [7, 20]) {
    test(`v${version}: SEND authenticated with X25519 (cbAuthenticate, nonce = corrId)`, () => {
      const c = find(version, "SEND x25519 (authenticator)");
      const t = encodeOne(version, hex(c.corr_id), sndId, send("hello, authenticated", false), authKey("snd-auth-x25519"), false);
      expect(toHex(t)).toBe(c.transmission);
      expect(t[0]).toBe(80);
      expect(toHex(t.subarray(1, 81))).toBe(c.authenticator);
    });
  }

  test("v6: unsigned SEND carries the session id on the wire", () => {
    const c = find(6, "SEND unsigned, no flags");
    const t = encodeOne(6, hex(c.corr_id), sndId, send("hello", false), null, false);
    expect(toHex(t)).toBe(c.transmission);
    expect(toHex(t.subarray(2, 34))).toBe(T.session_id);
  });

  test("v20: service-signed SUB (entity key over certHash ‖ authorized, service key over authorized)", () => {
    const c = find(20, "SUB service-signed");
    const t = encodeOne(20, hex(c.corr_id), rcvId, { tag: "SUB" }, authKey("rcv-auth-ed25519"), true);
    expect(toHex(t)).toBe(c.transmission);
    // Without a service session the same SUB has no service signature.
    const plain = find(20, "SUB");
    expect(toHex(encodeOne(20, hex(plain.corr_id), rcvId, { tag: "SUB" }, authKey("rcv-auth-ed25519"), false))).toBe(plain.transmission);
  });

  test("v20: in a service session, commands other than NEW/SUB/NSUB are not service-signed", () => {
    const c = find(20, "KEY");
    const cmd = parseCommand(new Reader(hex(c.command)), 20);
    expect(toHex(encodeOne(20, hex(c.corr_id), rcvId, cmd, authKey(c.auth_key), true))).toBe(c.transmission);
  });

  test("X25519 authorization without a server session key fails cleanly", () => {
    const enc = new TransmissionEncoder(transmissionParams(20, sessionId), null, null);
    const k = authKey("snd-auth-x25519");
    expect(() => enc.encode(new Writer(), new Uint8Array(24), sndId, send("x", false), k)).toThrow(SMPClientError);
    // The public key half is what NEW/KEY would carry.
    expect(toHex(publicKey("x25519", (k as DhPrivateKey).publicRaw).der)).toBe(keyOf("snd-auth-x25519").public_spki_der);
  });
});
