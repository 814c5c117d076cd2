// The default stream source: real TLS on localhost (transport/tls) under the client, with the
// server handshake of the fixture router on the other side.
import { afterAll, describe, expect, test } from "bun:test";
import { toHex } from "../vectors.ts";
import { CHAIN, KEY_HASH, SERVER_SESSION_KEY, SERVER_SIGN_KEY } from "./fake-server.ts";
import { SMPClient } from "../../src/client/client.ts";
import { SMPClientError } from "../../src/client/errors.ts";
import { tlsStream as tlsTransportStream } from "../../src/transport/tls-stream.ts";
import { listenTLS } from "../../src/transport/tls/server-tls.ts";
import { BlockTransport } from "../../src/transport/block.ts";
import { serverHandshake } from "../../src/transport/server-handshake.ts";
import { toPem } from "../../src/crypto/x509/certificate.ts";
import { encodePrivKey } from "../../src/crypto/keys.ts";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { base64url } from "../../src/encoding/base64.ts";
import { BatchCursor, batch1 } from "../../src/protocol/batch.ts";
import { encodeResponse, parseTransmission } from "../../src/protocol/transmission.ts";
import { MSG_ } from "../../src/protocol/broker-messages.ts";
import { versionRange } from "../../src/protocol/versions.ts";

/** Answers every PING with PONG. */
const server = listenTLS({
  hostname: "127.0.0.1",
  port: 0,
  credentials: {
    certPem: toPem("CERTIFICATE", CHAIN[0]!),
    chainPem: toPem("CERTIFICATE", CHAIN[1]!),
    keyPem: toPem("PRIVATE KEY", encodePrivKey("ed25519", SERVER_SIGN_KEY.raw)),
  },
  onConnection(conn) {
    void (async () => {
      const h = await serverHandshake(new BlockTransport(tlsTransportStream(conn)), {
        chainDer: CHAIN,
        signKey: SERVER_SIGN_KEY,
        keyHash: KEY_HASH,
        versionRange: versionRange(6, 20),
        sessionKey: SERVER_SESSION_KEY(),
        getService: async () => ({ type: "HANDSHAKE", err: "BAD_SERVICE" }) as const,
      });
      if (typeof h === "string") return;
      const cursor = new BatchCursor();
      const r = new Reader(new Uint8Array(0));
      const w = new Writer(1024);
      for (;;) {
        const p = await h.readPayload();
        if (p === null || p === "bad" || !cursor.open(p)) return;
        while (cursor.next()) {
          const t = parseTransmission(p, cursor.start, cursor.end, h.params, r);
          if (t.command?.tag !== "PING") continue;
          w.reset();
          encodeResponse(w, h.params, t.corrId, t.entityId, MSG_.PONG);
          h.writePayload(batch1(w.view_()));
        }
      }
    })();
  },
});
afterAll(() => server.stop(true));

const address = (keyHash: Uint8Array) => `smp://${base64url(keyHash)}@127.0.0.1:${server.port}`;

describe("SMPClient.connect over TLS", () => {
  test("handshake at v20 with block encryption; the session id is the TLS Finished both sides see", async () => {
    const client = await SMPClient.connect({ server: address(KEY_HASH) });
    try {
      expect(client.version).toBe(20);
      expect(client.handle.blockEncryption).toBe(true);
      expect(client.sessionId.length).toBeGreaterThanOrEqual(12);
      await client.ping();
      await client.ping();
    } finally {
      client.close();
    }
    await client.closed;
  });

  test("a server whose CA is not the address's key hash is refused", async () => {
    const wrong = new Uint8Array(32).fill(1);
    const e = await SMPClient.connect({ server: address(wrong) }).catch((e) => e);
    expect(e).toBeInstanceOf(SMPClientError);
    expect(e.kind).toBe("connect");
    expect(toHex(wrong)).not.toBe(toHex(KEY_HASH));
  });

  test("nothing listening → connect error", async () => {
    const e = await SMPClient.connect({ server: `smp://${base64url(KEY_HASH)}@127.0.0.1:1`, connectTimeoutMs: 2000 }).catch((e) => e);
    expect(e).toBeInstanceOf(SMPClientError);
    expect(e.kind).toBe("connect");
  });
});
