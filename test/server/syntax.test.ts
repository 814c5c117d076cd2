// tests/ServerTests.hs:serverSyntaxTests end to end: hand-made transmissions sent to a real server
// and its exact answers (corrId, entity and ERR) — parse errors (Protocol.hs:parseProtocol),
// credential shapes (Protocol.hs:checkCredentials) and AUTH for well-formed commands with a bad
// signature. Plus the transmission-level errors of Protocol.hs:tDecodeServer / tParse.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateAuthKey, type SMPClient } from "../../src/client/index.ts";
import { fromBase64 } from "../../src/encoding/base64.ts";
import { Writer } from "../../src/encoding/writer.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { startTestServer, type TestServer } from "./harness.ts";
import { EMPTY, b, connect, err, nextEvent, sampleSig, srRaw } from "./helpers.ts";

/** ServerTests.hs:samplePubKey (Ed25519) and sampleDhPubKey (X25519), DER. */
const samplePubKey = fromBase64("MCowBQYDK2VwAyEAfAOflyvbJv1fszgzkQ6buiZJVgSpQWsucXq7U6zjMgY=");
const sampleDhPubKey = fromBase64("MCowBQYDK2VuAyEAriy+HcARIhqsgSjVnjKqoft+y6pxrxdY68zn4+LjYhQ=");

/** smpEncode of a tuple of these parts (strings as raw bytes; keys short-prefixed). */
function enc(...parts: (string | Uint8Array | { short: Uint8Array })[]): Uint8Array {
  const w = new Writer();
  for (const p of parts) {
    if (typeof p === "string") w.ascii(p);
    else if (p instanceof Uint8Array) w.bytes(p);
    else w.short(p.short);
  }
  return w.toBytes();
}
const pk = { short: samplePubKey };
const dhk = { short: sampleDhPubKey };
/** `('0', SMSubscribe, Just (QRMessaging Nothing), '0')`: no basic auth, subscribe, messaging queue, no notifier creds. */
const NEW_TAIL = "0S1M00";

let srv: TestServer;
let c: SMPClient;
beforeAll(async () => {
  srv = await startTestServer();
  c = await connect(srv);
});
afterAll(async () => {
  c.close();
  await srv.stop();
});

const NONE = EMPTY;
const e12345678 = b("12345678");

/** `command >#> response`: the answer to (auth, corrId, entity, command bytes). */
async function answer(auth: Uint8Array, corrId: string, entity: Uint8Array, cmd: Uint8Array): Promise<BrokerMsg> {
  return srRaw(c, auth, corrId, entity, cmd);
}

describe("ServerTests.hs:serverSyntaxTests", () => {
  test("unknown command", async () => {
    expect(await answer(NONE, "abcd", b("1234"), enc("HELLO"))).toEqual(err(ERR.CMD_UNKNOWN));
  });

  describe("NEW", () => {
    test("no parameters", async () => {
      expect(await answer(sampleSig, "bcda", EMPTY, enc("NEW"))).toEqual(err(ERR.CMD_SYNTAX));
    });
    test("many parameters", async () => {
      expect(await answer(sampleSig, "cdab", EMPTY, enc("NEW", " ", "\x01A", pk, dhk))).toEqual(err(ERR.CMD_SYNTAX));
    });
    test("no signature", async () => {
      expect(await answer(NONE, "dabc", EMPTY, enc("NEW", " ", pk, dhk, NEW_TAIL))).toEqual(err(ERR.CMD_NO_AUTH));
    });
    test("queue ID", async () => {
      expect(await answer(sampleSig, "abcd", e12345678, enc("NEW", " ", pk, dhk, NEW_TAIL))).toEqual(err(ERR.CMD_HAS_AUTH));
    });
    test("(well-formed, but the signature is not by the key in NEW) → AUTH", async () => {
      expect(await answer(sampleSig, "abcd", EMPTY, enc("NEW", " ", pk, dhk, NEW_TAIL))).toEqual(err(ERR.AUTH));
    });
  });

  describe("KEY", () => {
    test("valid syntax", async () => {
      expect(await answer(sampleSig, "bcda", e12345678, enc("KEY", " ", pk))).toEqual(err(ERR.AUTH));
    });
    test("no parameters", async () => {
      expect(await answer(sampleSig, "cdab", e12345678, enc("KEY"))).toEqual(err(ERR.CMD_SYNTAX));
    });
    test("many parameters", async () => {
      expect(await answer(sampleSig, "dabc", e12345678, enc("KEY", " ", "\x01A", pk))).toEqual(err(ERR.CMD_SYNTAX));
    });
    test("no signature", async () => {
      expect(await answer(NONE, "abcd", e12345678, enc("KEY", " ", pk))).toEqual(err(ERR.CMD_NO_AUTH));
    });
    test("no queue ID", async () => {
      expect(await answer(sampleSig, "bcda", EMPTY, enc("KEY", " ", pk))).toEqual(err(ERR.CMD_NO_AUTH));
    });
  });

  for (const tag of ["SUB", "OFF", "DEL"]) {
    describe(tag, () => {
      test("valid syntax", async () => {
        expect(await answer(sampleSig, "abcd", e12345678, enc(tag))).toEqual(err(ERR.AUTH));
      });
      test("wrong terminator", async () => {
        expect(await answer(sampleSig, "bcda", e12345678, enc(tag, "="))).toEqual(err(ERR.CMD_UNKNOWN));
      });
      test("no signature", async () => {
        expect(await answer(NONE, "cdab", e12345678, enc(tag))).toEqual(err(ERR.CMD_NO_AUTH));
      });
      test("no queue ID", async () => {
        expect(await answer(sampleSig, "dabc", EMPTY, enc(tag))).toEqual(err(ERR.CMD_NO_AUTH));
      });
    });
  }

  describe("SEND", () => {
    test("valid syntax", async () => {
      expect(await answer(sampleSig, "cdab", e12345678, enc("SEND", " ", "F", " ", "hello"))).toEqual(err(ERR.AUTH));
    });
    test("no parameters", async () => {
      expect(await answer(sampleSig, "abcd", e12345678, enc("SEND"))).toEqual(err(ERR.CMD_SYNTAX));
    });
    test("no queue ID", async () => {
      expect(await answer(sampleSig, "bcda", EMPTY, enc("SEND", " ", "F", " ", "hello"))).toEqual(err(ERR.CMD_NO_ENTITY));
    });
  });

  describe("ACK", () => {
    test("valid syntax", async () => {
      expect(await answer(sampleSig, "cdab", e12345678, enc("ACK", " ", { short: b("1234") }))).toEqual(err(ERR.AUTH));
    });
    test("no parameters", async () => {
      expect(await answer(sampleSig, "abcd", e12345678, enc("ACK"))).toEqual(err(ERR.CMD_SYNTAX));
    });
    test("no queue ID", async () => {
      expect(await answer(sampleSig, "bcda", EMPTY, enc("ACK", " ", { short: b("1234") }))).toEqual(err(ERR.CMD_NO_AUTH));
    });
    test("no signature", async () => {
      expect(await answer(NONE, "cdab", e12345678, enc("ACK", " ", { short: b("1234") }))).toEqual(err(ERR.CMD_NO_AUTH));
    });
  });

  describe("PING", () => {
    test("valid syntax", async () => {
      expect(await answer(NONE, "abcd", EMPTY, enc("PING"))).toEqual({ tag: "PONG" });
    });
  });

  describe("broker response not allowed", () => {
    test("OK", async () => {
      expect(await answer(sampleSig, "bcda", e12345678, enc("OK"))).toEqual(err(ERR.CMD_UNKNOWN));
    });
  });
});

describe("transmission-level errors (Protocol.hs:tDecodeServer, tParse)", () => {
  test("an authorization of a length other than 64/80/114 → BLOCK, corrId kept, entity dropped", async () => {
    const r = c.expectResponse(b("len"), EMPTY);
    const w = new Writer();
    w.short(new Uint8Array(10)).ascii("0").short(b("len")).short(e12345678).ascii("SUB"); // '0': no service signature (v16+)
    c.sendRawPayload(enc("\x01", new Uint8Array([0, w.pos]), w.toBytes()));
    expect(await r).toEqual(err(ERR.BLOCK));
  });

  test("a block whose batch framing does not parse → one ERR BLOCK event; the connection goes on", async () => {
    c.sendRawPayload(new Uint8Array([2, 0, 1, 0x41]));
    expect(await nextEvent(c, EMPTY)).toEqual(err(ERR.BLOCK));
    expect(await answer(NONE, "ping", EMPTY, enc("PING"))).toEqual({ tag: "PONG" });
  });

  test("v6: a session id other than the connection's → SESSION, corrId kept, entity dropped", async () => {
    const c6 = await connect(srv, 6);
    try {
      expect(await srRaw(c6, NONE, "abcd", EMPTY, enc("PING"))).toEqual({ tag: "PONG" }); // the right session id
      const w = new Writer();
      w.short(EMPTY).short(new Uint8Array(32).fill(1)).short(b("sess")).short(e12345678).ascii("PING");
      const r = c6.expectResponse(b("sess"), EMPTY);
      c6.sendRawPayload(enc("\x01", new Uint8Array([0, w.pos]), w.toBytes()));
      expect(await r).toEqual(err(ERR.SESSION));
    } finally {
      c6.close();
    }
  });

  test("v16+: a service signature on a command that takes none → SERVICE", async () => {
    const key = generateAuthKey("ed25519");
    const q = await c.createQueue({ rcvAuthKey: key });
    const r = await srRaw(c, EMPTY, "svc", q.rcvId, { tag: "QUE" }, { authKey: key, serviceSig: sampleSig });
    expect(r).toEqual(err(ERR.SERVICE));
  });
});
