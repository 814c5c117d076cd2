/**
 * The TLS listener against OpenSSL clients (Python's ssl module and `openssl s_client`): the session
 * id is the client's Finished exactly as OpenSSL reports tls-unique (Transport.hs:withTlsUnique,
 * server side T.getPeerFinished), in TLS 1.3 for every AEAD a client may negotiate and in TLS 1.2;
 * no session resumption (errata 4); ALPN as Transport/Server.hs:supportedTLSServerParams; bad
 * clients are closed cleanly within the setup timeout (Transport/Server.hs:tlsSetupTimeout).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hex } from "../../../src/encoding/bytes.ts";
import { CertDir, OPENSSL, serverCredentials, type Issued } from "./certs.ts";
import { opensslConf, pyClient, rawClient, startEchoServer, type EchoServer } from "./harness.ts";

let certs: CertDir;
let ca: Issued;
let credentials: { certPem: string; chainPem: string; keyPem: string };
let srv: EchoServer;

beforeAll(() => {
  certs = new CertDir();
  ({ ca, credentials } = serverCredentials(certs));
  srv = startEchoServer({ credentials });
});

afterAll(() => {
  srv.stop();
  certs.remove();
});

describe("session id = the client's TLS Finished (tls-unique)", () => {
  const cases = [
    // what SimpleX clients offer (Transport.hs:defaultSupportedParams)
    { name: "TLS 1.3 ChaCha20-Poly1305", version: "1.3", suites: "TLS_CHACHA20_POLY1305_SHA256", cipher: "TLS_CHACHA20_POLY1305_SHA256", len: 32 },
    { name: "TLS 1.3 AES-128-GCM", version: "1.3", suites: "TLS_AES_128_GCM_SHA256", cipher: "TLS_AES_128_GCM_SHA256", len: 32 },
    { name: "TLS 1.3 AES-256-GCM (SHA-384)", version: "1.3", suites: "TLS_AES_256_GCM_SHA384", cipher: "TLS_AES_256_GCM_SHA384", len: 48 },
    { name: "TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305", version: "1.2", suites: undefined, cipher: "ECDHE-ECDSA-CHACHA20-POLY1305", len: 12 },
  ] as const;
  for (const c of cases) {
    test(c.name, async () => {
      const next = srv.nextConnection();
      const conf = c.suites ? opensslConf(certs.dir, c.suites) : undefined;
      const [r] = await pyClient(srv.port, { version: c.version, alpn: "smp/1", caFile: ca.certPath, opensslConf: conf });
      const conn = await next;
      expect(r.error).toBeUndefined();
      expect(r.cipher).toBe(c.cipher);
      expect(r.tls_unique).toHaveLength(c.len * 2);
      expect(hex(conn.sessionId)).toBe(r.tls_unique!);
      expect(conn.tlsVersion).toBe(c.version === "1.3" ? "TLSv1.3" : "TLSv1.2");
      expect(conn.alpn).toBe("smp/1");
      expect(conn.peerCertificateChain).toEqual([]);
      expect(r.echo).toBe("ping\n");
    });
  }
});

describe("no session resumption (errata 4)", () => {
  for (const version of ["1.3", "1.2"] as const) {
    test(`TLS ${version}: reconnecting with the saved session gets a full handshake`, async () => {
      const results = await pyClient(srv.port, { version, alpn: "smp/1", caFile: ca.certPath, resume: true });
      expect(results).toHaveLength(2);
      expect(results.map((r) => r.error)).toEqual([undefined, undefined]);
      expect(results.map((r) => r.reused)).toEqual([false, false]);
      expect(results[0].tls_unique).not.toBe(results[1].tls_unique);
    });
  }
});

describe("ALPN: the first server-list entry the client offered (Transport/Server.hs:supportedTLSServerParams)", () => {
  const cases: [string, string | null][] = [
    ["http/1.1", "http/1.1"],
    ["h2,smp/1", "smp/1"], // the server's order wins
    ["http/1.1,h2", "h2"],
  ];
  for (const [offered, expected] of cases) {
    test(`client offers ${offered} → ${expected}`, async () => {
      const next = srv.nextConnection();
      const [r] = await pyClient(srv.port, { version: "1.3", alpn: offered, caFile: ca.certPath });
      const conn = await next;
      expect(r.alpn).toBe(expected);
      expect(conn.alpn).toBe(expected!);
    });
  }

  test("no ALPN from the client → none negotiated", async () => {
    const next = srv.nextConnection();
    const [r] = await pyClient(srv.port, { version: "1.3", caFile: ca.certPath });
    const conn = await next;
    expect(r.error).toBeUndefined();
    expect(r.alpn).toBeNull();
    expect(conn.alpn).toBe(false);
  });

  test("no match → handshake aborted with no_application_protocol", async () => {
    const err = srv.nextHandshakeError();
    const [r] = await pyClient(srv.port, { version: "1.3", alpn: "foo", caFile: ca.certPath });
    expect(r.error).toMatch(/no.application.protocol/i);
    expect(await err).toMatch(/NO_APPLICATION_PROTOCOL/i);
  });
});

test("an OpenSSL TLS 1.2 client connects without legacy_server_connect (errata 5)", async () => {
  const next = srv.nextConnection();
  const p = Bun.spawn([OPENSSL, "s_client", "-connect", `127.0.0.1:${srv.port}`, "-tls1_2", "-alpn", "smp/1", "-CAfile", ca.certPath], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const conn = await next;
  p.stdin.end();
  const out = await new Response(p.stdout).text();
  await p.exited;
  expect(conn.tlsVersion).toBe("TLSv1.2");
  expect(out).toContain("Secure Renegotiation IS supported");
  expect(out).toContain("Cipher is ECDHE-ECDSA-CHACHA20-POLY1305");
});

describe("bad clients are closed cleanly", () => {
  let short: EchoServer;
  beforeAll(() => {
    short = startEchoServer({ credentials, tlsSetupTimeoutMs: 300 });
  });
  afterAll(() => short.stop());

  test("garbage → closed at once, handshake error reported", async () => {
    // On the server with the default setup timeout: with the 300 ms one, a loaded machine that
    // reads the bytes later than that would see the timer's reason instead.
    const before = srv.connections.length;
    const err = srv.nextHandshakeError();
    await rawClient(srv.port, new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    // Rejected for what it sent, not left to the setup timer (which would report its own reason).
    const reason = await err;
    expect(reason).toBeString();
    expect(reason).not.toBe("TLS setup timeout");
    expect(srv.connections).toHaveLength(before);
  });

  test("truncated ClientHello → closed by the setup timeout", async () => {
    const err = short.nextHandshakeError();
    // handshake record announcing 512 bytes, ClientHello header, then silence
    const partial = Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3]);
    const ms = await rawClient(short.port, partial);
    expect(ms).toBeGreaterThanOrEqual(280); // a timer never fires early; no upper bound on a busy machine
    expect(await err).toBe("TLS setup timeout");
  });

  test("silent client → closed by the setup timeout", async () => {
    const err = short.nextHandshakeError();
    const ms = await rawClient(short.port, new Uint8Array(0));
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(await err).toBe("TLS setup timeout");
  });

  test("more handshake bytes than the cap → closed", async () => {
    const capped = startEchoServer({ credentials, maxHandshakeBytes: 100 });
    try {
      const err = capped.nextHandshakeError();
      const [r] = await pyClient(capped.port, { version: "1.3", alpn: "smp/1", caFile: ca.certPath });
      expect(r.error).toBeDefined();
      expect(await err).toMatch(/too many bytes/);
    } finally {
      capped.stop();
    }
  });
});
