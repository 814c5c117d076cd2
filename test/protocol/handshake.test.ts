// Handshake blocks of handshake.json, written by the real Transport.hs:smpServerHandshake /
// smpClientHandshake: server hellos, client hellos (v6..v20, with/without key, proxy, services) and the
// service responses ('R' short(serviceId) | 'E' TransportError).
import { describe, expect, test } from "bun:test";
import { Reader, ParseError } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import {
  encodeClientHello,
  encodeServerHandshakeResponse,
  encodeServerHello,
  parseClientHello,
  parseServerHandshakeResponse,
  parseServerHello,
  type ServerHandshakeResponse,
} from "../../src/protocol/handshake.ts";
import { compatibleVRangeTo, supportedServerSMPRelayVRange, legacyServerSMPRelayVRange } from "../../src/protocol/versions.ts";
import { loadVectors, hex, toHex, encode } from "./helpers.ts";

const H = loadVectors("handshake.json");
const keyOf = (label: string) => H.keys.find((k: any) => k.label === label);
const serverCertKey = {
  certChain: [hex(H.fixtures.server_crt_der), hex(H.fixtures.ca_crt_der)],
  signedPubKey: hex(H.signed_server_session_key_der),
};

describe("server hello", () => {
  for (const c of H.cases) {
    test(c.name, () => {
      const range = c.server_vrange[1] === 6 ? legacyServerSMPRelayVRange : supportedServerSMPRelayVRange;
      expect([range.min, range.max]).toEqual(c.server_vrange);
      const bytes = encode((w) => encodeServerHello(w, { versionRange: range, sessionId: hex(H.session_id), certKey: serverCertKey }));
      expect(toHex(bytes)).toBe(c.server_blocks_unpadded[0]);
      const back = parseServerHello(new Reader(bytes));
      expect(back.versionRange).toEqual(range);
      expect(back.certKey === null).toBe(range.max < 7);
    });
  }
});

describe("client hello", () => {
  for (const c of H.cases) {
    test(c.name, () => {
      const bytes = hex(c.client_blocks_unpadded[0]);
      const h = parseClientHello(new Reader(bytes));
      // Transport.hs:smpClientHandshake: the client picks max(intersection of the two ranges).
      expect(h.version).toBe(Math.min(c.client_vrange[1], c.server_vrange[1]));
      expect(toHex(h.keyHash)).toBe(H.fixtures.key_hash_sha256_ca);
      // At v6 the key is omitted even when the client has one (Transport.hs:encodeAuthEncryptCmds).
      const expectKey = c.client_session_key !== null && h.version >= 7;
      expect(h.authPubKey === null ? null : toHex(h.authPubKey.der)).toBe(expectKey ? keyOf(c.client_session_key).public_spki_der : null);
      expect(h.proxyServer).toBe(h.version >= 14 ? c.proxy_server : false);
      expect(h.clientService?.role ?? null).toBe(c.service?.role ?? null);
      if (c.service !== null) {
        expect(h.clientService!.certKey.certChain.map(toHex)).toEqual([H.fixtures.ca_crt_der]); // "[ca.crt] (self-signed)"
      }
      expect(toHex(encode((w) => encodeClientHello(w, h)))).toBe(c.client_blocks_unpadded[0]);
      // The server's choice (Version.hs:compatibleVRange'): the client's version within the offered range.
      if (c.resulting_params.thVersion !== undefined) {
        const range = c.server_vrange[1] === 6 ? legacyServerSMPRelayVRange : supportedServerSMPRelayVRange;
        expect(compatibleVRangeTo(range, h.version)?.max).toBe(c.resulting_params.thVersion);
      }
    });
  }

  test("optional key backtracks: a v14 hello without key starts its tail with the proxy Bool", () => {
    const w = new Writer();
    w.word16(14).short(hex(H.fixtures.key_hash_sha256_ca)).bool(true);
    const h = parseClientHello(new Reader(w.toBytes()));
    expect(h.authPubKey).toBeNull();
    expect(h.proxyServer).toBe(true);
  });

  test("a malformed hello is a parse error (→ HANDSHAKE PARSE, connection closed)", () => {
    const w = new Writer();
    w.word16(16).short(hex(H.fixtures.key_hash_sha256_ca)).bool(false).byte(0x31).byte(0x58); // role 'X'
    expect(() => parseClientHello(new Reader(w.toBytes()))).toThrow(ParseError);
    expect(() => parseClientHello(new Reader(Uint8Array.of(0, 20, 5)))).toThrow(ParseError);
  });
});

describe("service handshake response", () => {
  for (const c of H.cases.filter((x: any) => x.service !== null)) {
    test(c.name, () => {
      const bytes = hex(c.server_blocks_unpadded[1]);
      const r = parseServerHandshakeResponse(new Reader(bytes));
      let expected: ServerHandshakeResponse;
      const res: string = c.service.server_result;
      if (/^[0-9a-f]+$/.test(res)) expected = { type: "R", serviceId: hex(res) };
      else if (res === "TEVersion") expected = { type: "E", err: { type: "VERSION" } };
      else expected = { type: "E", err: { type: "HANDSHAKE", err: /handshakeErr = (\w+)/.exec(res)![1] as any } };
      expect(r).toEqual(expected);
      expect(toHex(encode((w) => encodeServerHandshakeResponse(w, expected)))).toBe(c.server_blocks_unpadded[1]);
    });
  }
});
