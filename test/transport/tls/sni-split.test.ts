/**
 * An SMP TLS port shared with the web site (sni-split.ts): clients without SNI get exactly the SMP
 * TLS of server-tls.test.ts — session id = their Finished, ALPN rules, setup timeout, rejection of
 * garbage — and a ClientHello with SNI is handed over with every byte read so far.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import type { Socket } from "bun";
import { hex } from "../../../src/encoding/bytes.ts";
import { DISCARD, type SocketSink } from "../../../src/transport/tls/bun-handlers.ts";
import { MAX_HELLO_RECORDS } from "../../../src/transport/tls/client-hello.ts";
import { CertDir, serverCredentials, type Issued } from "./certs.ts";
import { opensslConf, pyClient, rawClient, startEchoServer, type EchoServer } from "./harness.ts";

let certs: CertDir;
let ca: Issued;
let credentials: { certPem: string; chainPem: string; keyPem: string };
let srv: EchoServer;
/** What the web side was handed: the first bytes of each SNI connection. */
const handedOver: Uint8Array[] = [];
let handoffWaiters: ((b: Uint8Array) => void)[] = [];

function handoff(socket: Socket<SocketSink>, hello: Uint8Array): void {
  handedOver.push(hello);
  for (const w of handoffWaiters.splice(0)) w(hello);
  socket.data = DISCARD;
  socket.terminate();
}

beforeAll(() => {
  certs = new CertDir();
  ({ ca, credentials } = serverCredentials(certs));
  srv = startEchoServer({ credentials, sniHandoff: handoff });
});

afterAll(() => {
  srv.stop();
  certs.remove();
});

describe("no SNI → SMP TLS, unchanged", () => {
  const cases = [
    { name: "TLS 1.3 ChaCha20-Poly1305", version: "1.3", suites: "TLS_CHACHA20_POLY1305_SHA256", len: 32 },
    { name: "TLS 1.3 AES-256-GCM (SHA-384)", version: "1.3", suites: "TLS_AES_256_GCM_SHA384", len: 48 },
    { name: "TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305", version: "1.2", suites: undefined, len: 12 },
  ] as const;
  for (const c of cases) {
    test(`session id = the client's Finished: ${c.name}`, async () => {
      const next = srv.nextConnection();
      const conf = c.suites ? opensslConf(certs.dir, c.suites) : undefined;
      const [r] = await pyClient(srv.port, { version: c.version, alpn: "smp/1", caFile: ca.certPath, opensslConf: conf });
      const conn = await next;
      expect(r.error).toBeUndefined();
      expect(r.tls_unique).toHaveLength(c.len * 2);
      expect(hex(conn.sessionId)).toBe(r.tls_unique!);
      expect(conn.alpn).toBe("smp/1");
      expect(r.echo).toBe("ping\n");
    });
  }

  test("ALPN: server order wins; no ALPN → none; no match → no_application_protocol", async () => {
    let next = srv.nextConnection();
    const [both] = await pyClient(srv.port, { version: "1.3", alpn: "http/1.1,smp/1", caFile: ca.certPath });
    expect(both.alpn).toBe("smp/1");
    expect((await next).alpn).toBe("smp/1");
    next = srv.nextConnection();
    const [none] = await pyClient(srv.port, { version: "1.3", caFile: ca.certPath });
    expect(none.alpn).toBeNull();
    expect((await next).alpn).toBe(false);
    const err = srv.nextHandshakeError();
    const [bad] = await pyClient(srv.port, { version: "1.3", alpn: "foo/1", caFile: ca.certPath });
    expect(bad.error).toMatch(/NO_APPLICATION_PROTOCOL|no application protocol/i);
    expect(await err).toBeString();
  });

  test("garbage is rejected by the TLS stack for what it is, not left to the timer", async () => {
    const err = srv.nextHandshakeError();
    await rawClient(srv.port, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    expect(await err).not.toBe("TLS setup timeout");
  });

  test("a truncated or missing ClientHello ends with the setup timeout, counted from the TCP connection", async () => {
    const short = startEchoServer({ credentials, tlsSetupTimeoutMs: 300, sniHandoff: handoff });
    try {
      const partial = Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3]);
      for (const bytes of [partial, new Uint8Array(0)]) {
        const err = short.nextHandshakeError();
        const ms = await rawClient(short.port, bytes);
        expect(ms).toBeGreaterThanOrEqual(280); // a timer never fires early; no upper bound on a busy machine
        expect(await err).toBe("TLS setup timeout");
      }
    } finally {
      short.stop();
    }
  });
});

test("a ClientHello cut into more records than a browser uses is refused: the connection is closed, counted as a TLS setup failure", async () => {
  // 1-byte handshake records of a hello announcing ~32 KB: before, every read re-parsed all that had
  // arrived (quadratic) until 64 KB were held.
  const records: number[] = [];
  const msg = [1, 0x00, 0x7f, 0xf0, 3, 3];
  for (let i = 0; i < MAX_HELLO_RECORDS + 1; i++) records.push(22, 3, 1, 0, 1, msg[i % msg.length]!);
  const err = srv.nextHandshakeError();
  const before = srv.connections.length;
  await rawClient(srv.port, Uint8Array.from(records)); // resolves when the server closes it
  expect(await err).toBe("TLS ClientHello cut into too many records");
  expect(srv.connections.length).toBe(before);
  expect(handedOver.some((h) => h.length === records.length)).toBe(false);
});

test("SNI → handed over with the complete ClientHello; no SMP connection and no handshake error", async () => {
  const got = new Promise<Uint8Array>((r) => handoffWaiters.push(r));
  const before = srv.connections.length;
  const c = connect({ host: "127.0.0.1", port: srv.port, servername: "smp.example.com", rejectUnauthorized: false });
  c.on("error", () => {});
  const hello = await got;
  c.destroy();
  expect(hello[0]).toBe(0x16); // a handshake record…
  expect(hello[5]).toBe(0x01); // …holding a ClientHello
  expect(hello.length).toBeGreaterThanOrEqual(5 + ((hello[3]! << 8) | hello[4]!));
  expect(new TextDecoder().decode(hello)).toContain("smp.example.com");
  expect(srv.connections.length).toBe(before);
});

test("a web side that throws ends only that connection: reported as a handshake error, SMP goes on", async () => {
  const broken = startEchoServer({
    credentials,
    sniHandoff: () => {
      throw new Error("boom");
    },
  });
  try {
    const err = broken.nextHandshakeError();
    const c = connect({ host: "127.0.0.1", port: broken.port, servername: "smp.example.com", rejectUnauthorized: false });
    const closed = new Promise((r) => c.on("close", r));
    c.on("error", () => {});
    expect(await err).toBe("web handoff: boom");
    await closed;
    const next = broken.nextConnection();
    const [r] = await pyClient(broken.port, { version: "1.3", alpn: "smp/1", caFile: ca.certPath });
    expect(r.echo).toBe("ping\n");
    expect(hex((await next).sessionId)).toBe(r.tls_unique!);
  } finally {
    broken.stop();
  }
});
