// A service hello whose session key is a bare SPKI instead of a signed object (Crypto.hs:signX509):
// the reference's hello parser rejects it (Transport.hs:Encoding CertChainPubKey, `C.SignedObject
// signedPubKey <- smpP` → X.decodeSignedObject fails), so smpServerHandshake's getHandshake fails
// and the connection closes without an answer — no 'E' HANDSHAKE BAD_AUTH, which is only sent once
// the hello has parsed (getClientService sendErr).
import { afterEach, expect, test } from "bun:test";
import { SMPClient } from "../../src/client/client.ts";
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
import { recordingOpenStream } from "../fixtures/wire.ts";
import { startTestServer } from "./harness.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The client's hello (one whole block) with `signedPubKey` in place of its service's signed key. */
function withSignedKey(signedPubKey: Uint8Array): (block: Uint8Array) => Uint8Array {
  return (block) => {
    const hello = parseClientHello(new Reader(unPad(block)!));
    const svc = hello.clientService!;
    const w = new Writer(BLOCK_SIZE);
    encodeClientHello(w, { ...hello, clientService: { role: svc.role, certKey: { certChain: svc.certKey.certChain, signedPubKey } } });
    return pad(w.toBytes(), BLOCK_SIZE);
  };
}

test("a bare SPKI as the service's signed key: closed after the server hello, no 'E' answer", async () => {
  const s = await startTestServer();
  cleanup.push(() => s.stop());
  const cert = generateServiceCert("localhost");
  const certSignKey = new SignPrivateKey("ed25519", decodePrivKey(pemToDer(cert.keyPem, "PRIVATE KEY")).raw);
  const sessionKey = new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32)));
  const bareSpki = publicKey("ed25519", sessionKey.publicRaw).der;
  const r = recordingOpenStream(withSignedKey(bareSpki));
  const e = await SMPClient.connect({
    server: s.address,
    service: { role: "M", certChain: [cert.der], certSignKey, sessionKey },
    openStream: r.openStream,
    connectTimeoutMs: 5000,
  }).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(Error);
  await r.closed;
  // Only the server hello came back.
  expect(r.rec.received.blocks.length).toBe(1);
  expect(s.server.stats.handshakeFailures).toBe(1);
});
