/**
 * Our TLS client against our server: both sides agree on the session id (client side = its own
 * Finished, T.getFinished; server side = the peer's, T.getPeerFinished — Transport.hs:withTlsUnique)
 * in both TLS versions; the client checks the server's identity (Transport/Client.hs:
 * validateCertificateChain); the server validates client certificates
 * (Transport/Server.hs:validateClientCertificate).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sha256 } from "../../../src/crypto/digest.ts";
import { connectTLS, listenTLS, type TlsConnection } from "../../../src/transport/tls/index.ts";
import { CertDir, serverCredentials, type Issued } from "./certs.ts";
import { startEchoServer, type EchoServer } from "./harness.ts";

let certs: CertDir;
let ca: Issued;
let server: Issued;
let srv: EchoServer;
let keyHash: Uint8Array;

beforeAll(() => {
  certs = new CertDir();
  const s = serverCredentials(certs);
  ca = s.ca;
  server = s.server;
  srv = startEchoServer({ credentials: s.credentials, tlsSetupTimeoutMs: 2000 });
  keyHash = sha256(ca.der);
});

afterAll(() => {
  srv.stop();
  certs.remove();
});

function echo(conn: TlsConnection, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    conn.onData = (chunk) => {
      got += Buffer.from(chunk).toString();
      if (got.length >= text.length) resolve(got);
    };
    conn.write(new TextEncoder().encode(text));
  });
}

function closed(conn: TlsConnection): Promise<void> {
  return new Promise((resolve) => {
    if (conn.closed) resolve();
    else conn.onClose = resolve;
  });
}

describe("both sides have the same session id", () => {
  for (const [maxVersion, len] of [["TLSv1.3", 32], ["TLSv1.2", 12]] as const) {
    test(maxVersion, async () => {
      const next = srv.nextConnection();
      const client = await connectTLS({ host: "127.0.0.1", port: srv.port, keyHash, maxVersion });
      const serverSide = await next;
      expect(client.tlsVersion).toBe(maxVersion);
      expect(serverSide.tlsVersion).toBe(maxVersion);
      expect(client.sessionId).toHaveLength(len); // ChaCha20-Poly1305/SHA-256 in TLS 1.3
      expect(client.sessionId).toEqual(serverSide.sessionId);
      expect(client.alpn).toBe("smp/1");
      expect(serverSide.alpn).toBe("smp/1");
      expect(client.peerCertificateChain).toEqual([server.der, ca.der]);
      expect(serverSide.peerCertificateChain).toEqual([]);
      expect(await echo(client, "hello")).toBe("hello");
      const gone = closed(serverSide);
      client.close();
      await gone;
      expect(serverSide.closed).toBe(true);
    });
  }
});

test("backpressure: a paused receiver stops the sender; resuming delivers every byte", async () => {
  const next = srv.nextConnection();
  const client = await connectTLS({ host: "127.0.0.1", port: srv.port, keyHash });
  const serverSide = await next;
  let received = 0;
  serverSide.onData = (chunk) => {
    received += chunk.length;
  };
  serverSide.pause();
  const block = new Uint8Array(16384).fill(7);
  let sent = 0;
  let drained: () => void = () => {};
  client.onDrain = () => drained();
  const waitDrain = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      drained = () => {
        clearTimeout(t);
        resolve(true);
      };
    });
  // write until the client's buffer stays full (no drain within 300 ms), bounded at 256 MB
  for (;;) {
    while (client.write(block)) sent += block.length;
    sent += block.length; // the write that returned false was still queued
    if (sent > 256 * 1024 * 1024 || !(await waitDrain(300))) break;
  }
  // kernel socket buffers + stream high-water marks (~4 MB here), not unbounded; Bun's TLSSocket
  // alone would have taken all 256 MB (it ignores the backpressure of the stream under it)
  expect(sent).toBeLessThan(32 * 1024 * 1024);
  expect(received).toBe(0);
  const allIn = new Promise<void>((resolve) => {
    serverSide.onData = (chunk) => {
      received += chunk.length;
      if (received === sent) resolve();
    };
  });
  serverSide.resume();
  await allIn;
  expect(received).toBe(sent);
  client.close();
});

test("data arriving before the owner sets onData is held and delivered in order", async () => {
  let resolveText: (t: string) => void;
  const text = new Promise<string>((r) => (resolveText = r));
  const lazy = listenTLS({
    hostname: "127.0.0.1",
    port: 0,
    credentials: { certPem: server.pem, chainPem: ca.pem, keyPem: server.keyPem },
    onConnection(conn) {
      setTimeout(() => {
        let got = "";
        conn.onData = (chunk) => {
          got += Buffer.from(chunk).toString();
          if (got.length >= 6) resolveText(got);
        };
      }, 50);
    },
  });
  try {
    const client = await connectTLS({ host: "127.0.0.1", port: lazy.port, keyHash });
    client.write(new TextEncoder().encode("abc"));
    client.write(new TextEncoder().encode("def"));
    expect(await text).toBe("abcdef");
    client.close();
  } finally {
    lazy.stop(true);
  }
});

describe("server identity (Transport/Client.hs:validateCertificateChain)", () => {
  test("key hash of another CA → rejected as UnknownCA", async () => {
    const other = sha256(server.der); // the leaf, not the CA
    expect(connectTLS({ host: "127.0.0.1", port: srv.port, keyHash: other })).rejects.toThrow(/UnknownCA/);
  });

  test("server sending only its leaf → rejected (a chain needs 2–4 certificates)", async () => {
    const lone = startEchoServer({ credentials: { certPem: server.pem, keyPem: server.keyPem } });
    try {
      expect(connectTLS({ host: "127.0.0.1", port: lone.port, keyHash })).rejects.toThrow(/EmptyChain/);
    } finally {
      lone.stop();
    }
  });

  test("connection refused → rejected", async () => {
    const probe = startEchoServer({ credentials: { certPem: server.pem, chainPem: ca.pem, keyPem: server.keyPem } });
    const port = probe.port;
    probe.stop();
    expect(connectTLS({ host: "127.0.0.1", port, keyHash })).rejects.toThrow(/connect/);
  });
});

describe("client certificates (Transport/Server.hs:validateClientCertificate)", () => {
  let clientCa: Issued;
  let clientLeaf: Issued;
  beforeAll(() => {
    clientCa = certs.ca("client-ca", "service CA");
    clientLeaf = certs.issue("client-leaf", clientCa);
  });

  for (const maxVersion of ["TLSv1.3", "TLSv1.2"] as const) {
    test(`${maxVersion}: valid 2-certificate chain → exposed as sent`, async () => {
      const next = srv.nextConnection();
      const client = await connectTLS({
        host: "127.0.0.1",
        port: srv.port,
        keyHash,
        maxVersion,
        clientCredentials: { certPem: clientLeaf.pem, chainPem: clientCa.pem, keyPem: clientLeaf.keyPem },
      });
      const serverSide = await next;
      expect(serverSide.peerCertificateChain).toEqual([clientLeaf.der, clientCa.der]);
      expect(serverSide.sessionId).toEqual(client.sessionId);
      client.close();
    });
  }

  test("valid self-signed single certificate → accepted", async () => {
    const self = certs.selfSigned("client-self");
    const next = srv.nextConnection();
    const client = await connectTLS({ host: "127.0.0.1", port: srv.port, keyHash, clientCredentials: { certPem: self.pem, keyPem: self.keyPem } });
    expect((await next).peerCertificateChain).toEqual([self.der]);
    client.close();
  });

  for (const maxVersion of ["TLSv1.3", "TLSv1.2"] as const) {
    test(`${maxVersion}: leaf not signed by the chain's CA → closed`, async () => {
      const stranger = certs.ca(`stranger-${maxVersion}`, "service CA"); // same name, other key
      const forged = certs.issue(`forged-${maxVersion}`, stranger);
      const err = srv.nextHandshakeError();
      const before = srv.connections.length;
      const client = await connectTLS({
        host: "127.0.0.1",
        port: srv.port,
        keyHash,
        maxVersion,
        clientCredentials: { certPem: forged.pem, chainPem: clientCa.pem, keyPem: forged.keyPem },
      }).catch((e: Error) => e);
      expect(await err).toMatch(/peer certificate rejected: InvalidSignature/);
      // the client may finish its side of the handshake before the server checks the chain
      if (!(client instanceof Error)) await closed(client);
      expect(srv.connections.length).toBe(before);
    });
  }

  test("5 certificates → closed (chain too long)", async () => {
    let issuer = certs.ca("long-0", "long 0");
    const cas = [issuer];
    for (let i = 1; i <= 3; i++) {
      issuer = certs.issue(`long-${i}`, issuer, { cn: `long ${i}`, asCa: true });
      cas.unshift(issuer);
    }
    const leaf = certs.issue("long-leaf", issuer);
    const err = srv.nextHandshakeError();
    const client = await connectTLS({
      host: "127.0.0.1",
      port: srv.port,
      keyHash,
      clientCredentials: { certPem: leaf.pem, chainPem: cas.map((c) => c.pem).join(""), keyPem: leaf.keyPem },
    }).catch((e: Error) => e);
    expect(await err).toMatch(/chain too long/);
    if (!(client instanceof Error)) await closed(client);
  });
});
