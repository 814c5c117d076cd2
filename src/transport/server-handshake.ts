/**
 * Server side of the SMP handshake (Transport.hs:smpServerHandshake, smpTHandleServer).
 *
 * server hello → client hello → [service response] → transmissions. Parse, identity and version
 * failures close the connection without an answer, as the reference does; a failed service
 * handshake answers 'E' and then closes.
 */
import { Reader, ParseError } from "../encoding/reader.ts";
import { Writer } from "../encoding/writer.ts";
import { bytesEqual } from "../encoding/bytes.ts";
import { unPad } from "../crypto/pad.ts";
import { DhPrivateKey, x25519 } from "../crypto/dh.ts";
import { sha256 } from "../crypto/digest.ts";
import { decodePubKey, publicKey, type PublicKey } from "../crypto/keys.ts";
import { serverChains } from "../crypto/sbchain.ts";
import { signX509, verifySignedObject } from "../crypto/signed-object.ts";
import type { SignPrivateKey } from "../crypto/sign.ts";
import {
  encodeServerHandshakeResponse,
  encodeServerHello,
  parseClientHello,
  type ClientHello,
  type ClientService,
} from "../protocol/handshake.ts";
import type { ServiceRole } from "../protocol/credentials.ts";
import type { TransportError } from "../protocol/errors.ts";
import { transmissionParams } from "../protocol/transmission.ts";
import {
  compatibleVRangeTo,
  encryptedBlockSMPVersion,
  legacyServerSMPRelayVRange,
  type VersionRange,
} from "../protocol/versions.ts";
import { BLOCK_SIZE, type BlockTransport } from "./block.ts";
import { padInto } from "../crypto/pad.ts";
import { SmpHandle, type PeerService, type ServerAuth } from "./handle.ts";
import { chainIdCaCerts } from "./tls/chain-validation.ts";
import { readCertFields } from "./tls/cert-fields.ts";

export interface ServerHandshakeConfig {
  /** The TLS chain [server.crt, ca.crt] (DER), repeated in the hello. */
  readonly chainDer: readonly Uint8Array[];
  /** The online key (server.key) that signs the per-connection key. */
  readonly signKey: SignPrivateKey;
  /** SHA-256 of ca.crt: the identity clients must name. */
  readonly keyHash: Uint8Array;
  /** Offered when an ALPN protocol was negotiated (else the legacy 6..6). */
  readonly versionRange: VersionRange;
  /**
   * Server.hs:getClientService: the service id for this certificate and role, or the
   * transport error to answer (HANDSHAKE BAD_SERVICE when the certificate has another role).
   */
  /** Fixed per-connection key (tests reproducing reference vectors); random otherwise. */
  readonly sessionKey?: DhPrivateKey;
  getService(role: ServiceRole, chain: readonly Uint8Array[], certHash: Uint8Array): Promise<Uint8Array | TransportError>;
}

/** Why a handshake ended without a handle (for counters and debug logs; never sent). */
export type ServerHandshakeFailure = "closed" | "PARSE" | "IDENTITY" | "VERSION" | "SERVICE";

function writeHandshakeBlock(t: BlockTransport, payload: Uint8Array): void {
  const block = new Uint8Array(BLOCK_SIZE);
  padInto(payload, block, 0, BLOCK_SIZE);
  t.writeBlock(block);
}

async function readHandshakeBlock(t: BlockTransport): Promise<Uint8Array | null | "bad"> {
  const block = await t.readBlock();
  if (block === null) return null;
  return unPad(block)?.slice() ?? "bad";
}

export async function serverHandshake(
  t: BlockTransport,
  cfg: ServerHandshakeConfig,
): Promise<SmpHandle<ServerAuth> | ServerHandshakeFailure> {
  const sessionId = t.stream.sessionId;
  const connKey = cfg.sessionKey ?? DhPrivateKey.generate();
  const signedKey = signX509(cfg.signKey, publicKey("x25519", connKey.publicRaw).der);
  const vRange = t.stream.alpn !== null ? cfg.versionRange : legacyServerSMPRelayVRange;

  const w = new Writer(4096);
  encodeServerHello(w, { versionRange: vRange, sessionId, certKey: { certChain: cfg.chainDer, signedPubKey: signedKey } });
  writeHandshakeBlock(t, w.view_());

  const payload = await readHandshakeBlock(t);
  if (payload === null) return "closed";
  let hello: ClientHello;
  try {
    if (payload === "bad") throw new ParseError("bad block");
    hello = parseClientHello(new Reader(payload));
  } catch {
    return "PARSE";
  }
  if (!bytesEqual(hello.keyHash, cfg.keyHash)) return "IDENTITY";
  const vr = compatibleVRangeTo(vRange, hello.version);
  if (vr === null) return "VERSION";

  let peerService: PeerService | null = null;
  if (hello.clientService !== null) {
    const s = await clientService(t, hello.clientService, cfg);
    if ("err" in s) {
      w.reset();
      encodeServerHandshakeResponse(w, { type: "E", err: s.err });
      writeHandshakeBlock(t, w.view_());
      return "SERVICE";
    }
    peerService = s;
    w.reset();
    encodeServerHandshakeResponse(w, { type: "R", serviceId: s.serviceId });
    writeHandshakeBlock(t, w.view_());
  }

  const v = hello.version;
  const sessSecret = hello.authPubKey !== null ? x25519(hello.authPubKey.raw, connKey) : null;
  const encrypt =
    sessSecret !== null && !hello.proxyServer && v >= encryptedBlockSMPVersion ? serverChains(sessionId, sessSecret) : null;
  const auth: ServerAuth = { serverPrivKey: connKey, sessSecret, peerService };
  return new SmpHandle(t, transmissionParams(v, sessionId), vr, auth, encrypt);
}

/** Transport.hs:smpServerHandshake.getClientService. */
async function clientService(
  t: BlockTransport,
  s: ClientService,
  cfg: ServerHandshakeConfig,
): Promise<PeerService | { err: TransportError }> {
  const badAuth = { err: { type: "HANDSHAKE", err: "BAD_AUTH" } as TransportError };
  const cc = s.certKey.certChain;
  const tlsChain = t.stream.peerCertificateChain;
  if (tlsChain.length !== cc.length || !cc.every((c, i) => bytesEqual(c, tlsChain[i]!))) return badAuth;
  const shape = chainIdCaCerts(cc);
  let leafCert: Uint8Array;
  let idCert: Uint8Array;
  if (shape.kind === "self") leafCert = idCert = shape.cert;
  else if (shape.kind === "valid") ({ leafCert, idCert } = shape);
  else return badAuth;
  let serviceKey: PublicKey;
  try {
    const leafKey = decodePubKey(readCertFields(leafCert).spki);
    if (leafKey.alg !== "ed25519" && leafKey.alg !== "ed448") return badAuth;
    const spki = verifySignedObject(s.certKey.signed ?? s.certKey.signedPubKey, leafKey);
    if (spki === null) return badAuth;
    serviceKey = decodePubKey(spki);
  } catch {
    return badAuth;
  }
  if (serviceKey.alg !== "ed25519") return badAuth;
  const certHash = sha256(idCert);
  const r = await cfg.getService(s.role, cc, certHash);
  if (!(r instanceof Uint8Array)) return { err: r };
  return { serviceId: r, role: s.role, certHash, serviceKey };
}
