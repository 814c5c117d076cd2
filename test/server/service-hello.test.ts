// A service hello whose session key is a bare SPKI instead of a signed object (Crypto.hs:signX509):
// the reference's hello parser rejects it (Transport.hs:Encoding CertChainPubKey, `C.SignedObject
// signedPubKey <- smpP` → X.decodeSignedObject fails), so smpServerHandshake's getHandshake fails
// and the connection closes without an answer — no 'E' HANDSHAKE BAD_AUTH, which is only sent once
// the hello has parsed (getClientService sendErr).
import { afterEach, expect, test } from "bun:test";
import { SMPClient, type OpenStream } from "../../src/client/client.ts";
import { connectTLSStream } from "../../src/client/tls-stream.ts";
import { publicKey } from "../../src/crypto/keys.ts";
import { pad, unPad } from "../../src/crypto/pad.ts";
import { decodePrivKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { pemToDer } from "../../src/crypto/x509/certificate.ts";
import { generateServiceCert } from "../../src/crypto/x509/service-certificate.ts";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { encodeClientHello, parseClientHello } from "../../src/protocol/handshake.ts";
import { BLOCK_SIZE } from "../../src/transport/block.ts";
import type { TransportStream } from "../../src/transport/stream.ts";
import { BlockCollector } from "../fixtures/wire.ts";
import { startTestServer } from "./harness.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** Rewrites the client's hello (its first block) to carry `signedPubKey` as is, and records what comes back. */
function helloRewriter(signedPubKey: Uint8Array): { openStream: OpenStream; received: BlockCollector; closed: Promise<void> } {
  const received = new BlockCollector();
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const openStream: OpenStream = async (host, port, ctx) => {
    const s = await connectTLSStream(host, port, { keyHash: ctx.keyHash, alpn: ctx.alpn, clientCredentials: ctx.clientCredentials, timeoutMs: ctx.timeoutMs });
    let sent = 0;
    const wrapped: TransportStream = {
      sessionId: s.sessionId,
      alpn: s.alpn,
      peerCertificateChain: s.peerCertificateChain,
      setHandlers: (h) =>
        s.setHandlers({
          onData: (chunk) => {
            received.push(chunk);
            h.onData(chunk);
          },
          onDrain: h.onDrain,
          onClose: () => {
            onClosed();
            h.onClose();
          },
        }),
      write: (data) => {
        if (sent++ > 0) return s.write(data);
        const hello = parseClientHello(new Reader(unPad(data)!));
        const w = new Writer(BLOCK_SIZE);
        encodeClientHello(w, { ...hello, clientService: { role: hello.clientService!.role, certKey: { certChain: hello.clientService!.certKey.certChain, signedPubKey } } });
        return s.write(pad(w.toBytes(), BLOCK_SIZE));
      },
      pause: () => s.pause(),
      resume: () => s.resume(),
      close: () => s.close(),
    };
    return wrapped;
  };
  return { openStream, received, closed };
}

test("a bare SPKI as the service's signed key: closed after the server hello, no 'E' answer", async () => {
  const s = await startTestServer();
  cleanup.push(() => s.stop());
  const cert = generateServiceCert("localhost");
  const certSignKey = new SignPrivateKey("ed25519", decodePrivKey(pemToDer(cert.keyPem, "PRIVATE KEY")).raw);
  const sessionKey = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
  const bareSpki = publicKey("ed25519", sessionKey.publicRaw).der;
  const r = helloRewriter(bareSpki);
  const e = await SMPClient.connect({
    server: s.address,
    service: { role: "M", certChain: [cert.der], certSignKey, sessionKey },
    openStream: r.openStream,
    connectTimeoutMs: 5000,
  }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(Error);
  await r.closed;
  // Only the server hello came back.
  expect(r.received.blocks.length).toBe(1);
  expect(s.server.stats.handshakeFailures).toBe(1);
});
