// The server's answer to malformed or mis-credentialed transmissions (Protocol.hs:tDecodeServer,
// parseProtocol, checkCredentials), including the cases of tests/ServerTests.hs:serverSyntaxTests.
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { parseTransmission, transmissionParams, prefixAuthorized, type ReceivedTransmission } from "../../src/protocol/transmission.ts";
import { ERR, type ErrorType } from "../../src/protocol/errors.ts";
import { parseCommand } from "../../src/protocol/commands.ts";
import { ProtocolError } from "../../src/protocol/errors.ts";
import { TX, hex, toHex, ascii, vkey } from "./helpers.ts";

const sid = hex(TX.session_id);
const sampleSig = new Uint8Array(64).fill(7);
const pk = (label: string) => vkey(label).der;

/** One transmission as a client would send it (Protocol.hs:tEncode) at version v. */
function tx(v: number, auth: Uint8Array, corrId: string, entity: string, cmd: Uint8Array, opts: { serviceSig?: Uint8Array; sessionId?: Uint8Array } = {}): Uint8Array {
  const w = new Writer();
  w.short(auth);
  if (v >= 16 && auth.length > 0) {
    w.maybe(opts.serviceSig !== undefined);
    if (opts.serviceSig !== undefined) w.short(opts.serviceSig);
  }
  if (v < 7) w.short(opts.sessionId ?? sid);
  w.short(ascii(corrId)).short(ascii(entity)).bytes(cmd);
  return w.toBytes();
}

function parse(t: Uint8Array, v = 20): ReceivedTransmission {
  return parseTransmission(t, 0, t.length, transmissionParams(v, sid), new Reader(t));
}

function answer(t: Uint8Array, v = 20): [string, string, ErrorType | string] {
  const r = parse(t, v);
  return [Buffer.from(r.corrId).toString("latin1"), Buffer.from(r.entityId).toString("latin1"), r.error ?? r.command!.tag];
}

const cat = (...parts: (string | Uint8Array)[]) => {
  const w = new Writer();
  for (const p of parts) typeof p === "string" ? w.ascii(p) : w.bytes(p);
  return w.toBytes();
};
const short = (b: Uint8Array) => cat(Uint8Array.of(b.length), b);
const NEW_PARAMS = cat(short(pk("rcv-auth-ed25519")), short(pk("rcv-dh-x25519")), "0", "S", "1M0", "0");

describe("tests/ServerTests.hs:serverSyntaxTests", () => {
  test("unknown command", () => {
    expect(answer(tx(20, new Uint8Array(), "abcd", "1234", ascii("HELLO")))).toEqual(["abcd", "1234", ERR.CMD_UNKNOWN]);
  });
  test("NEW", () => {
    expect(answer(tx(20, sampleSig, "bcda", "", ascii("NEW")))).toEqual(["bcda", "", ERR.CMD_SYNTAX]);
    expect(answer(tx(20, sampleSig, "cdab", "", cat("NEW ", "\x01A", short(pk("rcv-auth-ed25519")), short(pk("rcv-dh-x25519")))))).toEqual([
      "cdab",
      "",
      ERR.CMD_SYNTAX,
    ]);
    expect(answer(tx(20, new Uint8Array(), "dabc", "", cat("NEW ", NEW_PARAMS)))).toEqual(["dabc", "", ERR.CMD_NO_AUTH]);
    expect(answer(tx(20, sampleSig, "abcd", "12345678", cat("NEW ", NEW_PARAMS)))).toEqual(["abcd", "12345678", ERR.CMD_HAS_AUTH]);
    expect(answer(tx(20, sampleSig, "abcd", "", cat("NEW ", NEW_PARAMS)))).toEqual(["abcd", "", "NEW"]);
  });
  test("KEY", () => {
    const key = cat("KEY ", short(pk("snd-auth-ed25519")));
    expect(answer(tx(20, sampleSig, "bcda", "12345678", key))).toEqual(["bcda", "12345678", "KEY"]); // → AUTH later, at verification
    expect(answer(tx(20, sampleSig, "cdab", "12345678", ascii("KEY")))).toEqual(["cdab", "12345678", ERR.CMD_SYNTAX]);
    expect(answer(tx(20, sampleSig, "dabc", "12345678", cat("KEY ", "\x01A", short(pk("snd-auth-ed25519")))))).toEqual([
      "dabc",
      "12345678",
      ERR.CMD_SYNTAX,
    ]);
    expect(answer(tx(20, new Uint8Array(), "abcd", "12345678", key))).toEqual(["abcd", "12345678", ERR.CMD_NO_AUTH]);
    expect(answer(tx(20, sampleSig, "bcda", "", key))).toEqual(["bcda", "", ERR.CMD_NO_AUTH]);
  });
  for (const tag of ["SUB", "OFF", "DEL"]) {
    test(`${tag}: valid, wrong terminator, no signature, no queue id`, () => {
      expect(answer(tx(20, sampleSig, "abcd", "12345678", ascii(tag)))).toEqual(["abcd", "12345678", tag]);
      expect(answer(tx(20, sampleSig, "bcda", "12345678", ascii(tag + "=")))).toEqual(["bcda", "12345678", ERR.CMD_UNKNOWN]);
      expect(answer(tx(20, new Uint8Array(), "cdab", "12345678", ascii(tag)))).toEqual(["cdab", "12345678", ERR.CMD_NO_AUTH]);
      expect(answer(tx(20, sampleSig, "dabc", "", ascii(tag)))).toEqual(["dabc", "", ERR.CMD_NO_AUTH]);
      // Parameters after a parameterless tag fail the `parseAll`.
      expect(answer(tx(20, sampleSig, "abcd", "12345678", ascii(tag + " x")))).toEqual(["abcd", "12345678", ERR.CMD_SYNTAX]);
    });
  }
  test("SEND", () => {
    expect(answer(tx(20, sampleSig, "cdab", "12345678", ascii("SEND F hello")))).toEqual(["cdab", "12345678", "SEND"]);
    expect(answer(tx(20, sampleSig, "abcd", "12345678", ascii("SEND")))).toEqual(["abcd", "12345678", ERR.CMD_SYNTAX]);
    expect(answer(tx(20, sampleSig, "bcda", "", ascii("SEND F hello")))).toEqual(["bcda", "", ERR.CMD_NO_ENTITY]);
  });
  test("ACK", () => {
    const ack = cat("ACK ", short(ascii("1234")));
    expect(answer(tx(20, sampleSig, "cdab", "12345678", ack))).toEqual(["cdab", "12345678", "ACK"]);
    expect(answer(tx(20, sampleSig, "abcd", "12345678", ascii("ACK")))).toEqual(["abcd", "12345678", ERR.CMD_SYNTAX]);
    expect(answer(tx(20, sampleSig, "bcda", "", ack))).toEqual(["bcda", "", ERR.CMD_NO_AUTH]);
    expect(answer(tx(20, new Uint8Array(), "cdab", "12345678", ack))).toEqual(["cdab", "12345678", ERR.CMD_NO_AUTH]);
  });
  test("PING; a broker response sent as a command is unknown", () => {
    expect(answer(tx(20, new Uint8Array(), "abcd", "", ascii("PING")))).toEqual(["abcd", "", "PING"]);
    expect(answer(tx(20, sampleSig, "bcda", "12345678", ascii("OK")))).toEqual(["bcda", "12345678", ERR.CMD_UNKNOWN]);
  });
});

describe("transmission-level errors (Protocol.hs:tDecodeServer)", () => {
  test("authorization of a length other than 0/64/80/114 → BLOCK, corrId kept, entity dropped", () => {
    for (const n of [1, 32, 63, 65, 79, 81, 113, 115, 255]) {
      expect(answer(tx(20, new Uint8Array(n), "abcd", "q", ascii("SUB")))).toEqual(["abcd", "", ERR.BLOCK]);
    }
    for (const n of [64, 80, 114]) expect(answer(tx(20, new Uint8Array(n), "abcd", "q", ascii("SUB")))).toEqual(["abcd", "q", "SUB"]);
  });
  test("v6: a different session id → SESSION, corrId kept, entity dropped", () => {
    const other = new Uint8Array(32).fill(1);
    expect(answer(tx(6, sampleSig, "abcd", "q", ascii("SUB"), { sessionId: other }), 6)).toEqual(["abcd", "", ERR.SESSION]);
    expect(answer(tx(6, sampleSig, "abcd", "q", ascii("SUB")), 6)).toEqual(["abcd", "q", "SUB"]);
  });
  test("session mismatch is reported before a bad authorization length", () => {
    expect(answer(tx(6, new Uint8Array(3), "abcd", "q", ascii("SUB"), { sessionId: new Uint8Array(32) }), 6)).toEqual(["abcd", "", ERR.SESSION]);
  });
  test("unparsable transmission → BLOCK with empty corrId", () => {
    expect(answer(new Uint8Array(0))).toEqual(["", "", ERR.BLOCK]);
    expect(answer(Uint8Array.of(0, 10, 1, 2))).toEqual(["", "", ERR.BLOCK]);
    expect(answer(Uint8Array.of(64, 1, 2, 3))).toEqual(["", "", ERR.BLOCK]);
  });
  test("v16+: service-signature slot must be '0' or '1' + 64-byte signature", () => {
    expect(answer(tx(20, sampleSig, "abcd", "q", ascii("SUB"), { serviceSig: new Uint8Array(64) }))).toEqual(["abcd", "q", "SUB"]);
    expect(answer(tx(20, sampleSig, "abcd", "q", ascii("SUB"), { serviceSig: new Uint8Array(114) }))).toEqual(["", "", ERR.BLOCK]);
    // Below v16 there is no slot: the same bytes mean something else (here: a corrId of length 0x30).
    const t = tx(16, sampleSig, "abcd", "q", ascii("SUB"));
    expect(parse(t, 16).error).toBeNull();
    expect(parse(t, 15).error).not.toBeNull();
  });
});

describe("credential shapes (Protocol.hs:checkCredentials)", () => {
  const none = new Uint8Array();
  const cases: [string, Uint8Array, string, Uint8Array, ErrorType | string][] = [
    ["LGET no entity", none, "", ascii("LGET"), ERR.CMD_NO_ENTITY],
    ["LGET with auth", sampleSig, "l", ascii("LGET"), ERR.CMD_HAS_AUTH],
    ["LGET ok", none, "l", ascii("LGET"), "LGET"],
    ["PING with entity", none, "q", ascii("PING"), ERR.CMD_HAS_AUTH],
    ["PING with auth", sampleSig, "", ascii("PING"), ERR.CMD_HAS_AUTH],
    ["RFWD with entity", none, "q", ascii("RFWD x"), ERR.CMD_HAS_AUTH],
    ["RSLV with auth", sampleSig, "", ascii("RSLV alice.simplex"), ERR.CMD_HAS_AUTH],
    ["SEND without auth is fine", none, "s", ascii("SEND T hi"), "SEND"],
    ["NSUB without auth", none, "n", ascii("NSUB"), ERR.CMD_NO_AUTH],
    ["SUBS without entity", sampleSig, "", cat("SUBS ", new Uint8Array(8), short(new Uint8Array(16))), ERR.CMD_NO_AUTH],
  ];
  for (const [name, auth, entity, cmd, expected] of cases) {
    test(name, () => expect(answer(tx(20, auth, "c", entity, cmd))[2]).toEqual(expected));
  }
});

describe("command parameters", () => {
  const p = (s: Uint8Array, v = 20) => {
    try {
      return parseCommand(new Reader(s), v);
    } catch (e) {
      if (e instanceof ProtocolError) return e.error;
      throw e;
    }
  };
  test("keys must fit their slot: X448 is no auth key, Ed25519 is no DH key", () => {
    const ok = cat("NEW ", NEW_PARAMS);
    expect((p(ok) as any).tag).toBe("NEW");
    expect(p(cat("NEW ", short(pk("dh-x448")), short(pk("rcv-dh-x25519")), "0S1M00"))).toBe(ERR.CMD_SYNTAX);
    expect(p(cat("NEW ", short(pk("rcv-auth-ed25519")), short(pk("rcv-auth-ed25519")), "0S1M00"))).toBe(ERR.CMD_SYNTAX);
    expect((p(cat("NEW ", short(pk("signer-ed448")), short(pk("rcv-dh-x25519")), "0S1M00")) as any).req.rcvAuthKey.alg).toBe("ed448");
    expect(p(cat("PFWD ", Uint8Array.of(0, 20), short(pk("snd-auth-ed25519")), "x"))).toBe(ERR.CMD_SYNTAX);
    expect(p(cat("KEY ", short(new Uint8Array(44))))).toBe(ERR.CMD_SYNTAX);
  });
  test("NEW shape per version", () => {
    // v6..8: optional 'A' basic auth then mode; v9..14: Maybe auth, mode, sndSecure Bool.
    const keys = cat(short(pk("rcv-auth-ed25519")), short(pk("rcv-dh-x25519")));
    expect((p(cat("NEW ", keys, "A", short(ascii("pwd")), "C"), 6) as any).req).toMatchObject({ subMode: "C", queueReqData: null });
    expect(p(cat("NEW ", keys, "0S"), 9)).toBe(ERR.CMD_SYNTAX);
    expect((p(cat("NEW ", keys, "0ST"), 9) as any).req.queueReqData).toEqual({ mode: "M", link: null });
    expect((p(cat("NEW ", keys, "0SF"), 14) as any).req.queueReqData).toEqual({ mode: "C", link: null });
    expect(p(cat("NEW ", keys, "0S0"), 16)).toMatchObject({ tag: "NEW" });
    expect(p(cat("NEW ", keys, "0S0"), 17)).toBe(ERR.CMD_SYNTAX);
    expect(p(cat("NEW ", keys, "1", short(ascii("a@b")), "S0"), 16)).toBe(ERR.CMD_SYNTAX); // '@' not allowed in BasicAuth
  });
  test("SUBS / NSUBS carry (count, hash) only from v19", () => {
    const params = cat(" ", new Uint8Array([0, 0, 0, 0, 0, 0, 0, 3]), short(new Uint8Array(16)));
    expect(p(cat("SUBS", params), 19)).toMatchObject({ tag: "SUBS", count: 3 });
    expect(p(ascii("SUBS"), 19)).toBe(ERR.CMD_SYNTAX);
    expect(p(ascii("NSUBS"), 18)).toMatchObject({ tag: "NSUBS", count: -1, idsHash: new Uint8Array(16) });
    expect(p(cat("NSUBS", params), 18)).toBe(ERR.CMD_SYNTAX);
  });
  test("SEND flags: extra flag bytes up to SP are skipped; the body may be empty", () => {
    expect(p(ascii("SEND Tx hi"))).toMatchObject({ tag: "SEND", flags: { notification: true }, body: ascii("hi") });
    expect(p(ascii("SEND F "))).toMatchObject({ tag: "SEND", body: new Uint8Array() });
    expect(p(ascii("SEND T"))).toBe(ERR.CMD_SYNTAX);
    expect(p(ascii("SEND X hi"))).toBe(ERR.CMD_SYNTAX);
  });
  test("RSLV names (SimplexName.hs): canonical lower case, rest ignored, malformed → SYNTAX", () => {
    expect(p(ascii("RSLV Alice.SimpleX"))).toEqual({ tag: "RSLV", name: "alice.simplex" });
    expect(p(ascii("RSLV alice.simplex and more"))).toEqual({ tag: "RSLV", name: "alice.simplex" });
    expect(p(ascii("RSLV my-shop.example.com"))).toEqual({ tag: "RSLV", name: "my-shop.example.com" });
    for (const bad of ["RSLV alice", "RSLV ", "RSLV", "RSLV a--b.simplex", "RSLV -a.simplex", "RSLV a-.simplex", "RSLV a..simplex", "RSLV .a.simplex", "RSLV a.simplex.", "RSLV al\u00e9.simplex"]) {
      expect(p(ascii(bad))).toBe(ERR.CMD_SYNTAX);
    }
    expect(p(ascii(`RSLV ${"a".repeat(63)}.simplex`))).toMatchObject({ tag: "RSLV" });
    expect(p(ascii(`RSLV ${"a".repeat(64)}.simplex`))).toBe(ERR.CMD_SYNTAX);
    const long = Array.from({ length: 4 }, () => "a".repeat(62)).join(".") + ".simplex"; // 259 bytes
    expect(p(ascii(`RSLV ${long}`))).toBe(ERR.CMD_SYNTAX);
    const max = ["a".repeat(61), "a".repeat(61), "a".repeat(61), "a".repeat(59)].join(".") + ".simplex";
    expect(max.length).toBe(253);
    expect(p(ascii(`RSLV ${max}`))).toMatchObject({ tag: "RSLV" });
    expect(p(ascii(`RSLV a${max}`))).toBe(ERR.CMD_SYNTAX); // 254 bytes
  });
  test("RKEY needs at least one key; ACK accepts an empty msgId", () => {
    expect(p(cat("RKEY ", Uint8Array.of(0)))).toBe(ERR.CMD_SYNTAX);
    expect(p(cat("ACK ", Uint8Array.of(0)))).toMatchObject({ tag: "ACK", msgId: new Uint8Array() });
  });
  test("tags are matched exactly", () => {
    for (const bad of ["sub", "SUBSS", "NEWX", "", " SUB", "\0SUB"]) expect(p(ascii(bad))).toBe(ERR.CMD_UNKNOWN);
  });
});

test("prefixAuthorized writes the service fingerprint in place before the authorized bytes", () => {
  const t = tx(20, sampleSig, "abcd", "q", ascii("SUB"), { serviceSig: new Uint8Array(64).fill(9) });
  const r = parse(t);
  const authorized = toHex(r.authorized!);
  const fp = new Uint8Array(32).fill(0xaa);
  const withFp = prefixAuthorized(t, r, fp);
  expect(withFp.buffer).toBe(t.buffer);
  expect(toHex(withFp)).toBe(toHex(fp) + authorized);
  expect(toHex(r.serviceSig!)).toBe("09".repeat(64));
});
