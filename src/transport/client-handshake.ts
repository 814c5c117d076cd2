/**
 * Client side of the SMP handshake (Transport.hs:smpClientHandshake, smpTHandleClient): used by
 * the client library and by the proxy's connections to destination routers.
 */
import { Reader } from "../encoding/reader.ts";
import { Writer } from "../encoding/writer.ts";
import { bytesEqual } from "../encoding/bytes.ts";
import { padInto, unPad } from "../crypto/pad.ts";
import { DhPrivateKey, x25519 } from "../crypto/dh.ts";
import { sha256 } from "../crypto/digest.ts";
import { decodePubKey, publicKey } from "../crypto/keys.ts";
import { clientChains } from "../crypto/sbchain.ts";
import { signX509, verifySignedObject } from "../crypto/signed-object.ts";
import type { SignPrivateKey } from "../crypto/sign.ts";
import {
  encodeClientHello,
  parseServerHandshakeResponse,
  parseServerHello,
  type ClientService,
  type ServerHello,
} from "../protocol/handshake.ts";
import type { ServiceRole } from "../protocol/credentials.ts";
import type { TransportError } from "../protocol/errors.ts";
import { transmissionParams } from "../protocol/transmission.ts";
import {
  compatibleVRange,
  deletedEventSMPVersion,
  encryptedBlockSMPVersion,
  proxyServerHandshakeSMPVersion,
  rcvServiceSMPVersion,
  serviceCertsSMPVersion,
  versionRange,
  type VersionRange,
} from "../protocol/versions.ts";
import { BLOCK_SIZE, type BlockTransport } from "./block.ts";
import { SmpHandle, type ClientAuth } from "./handle.ts";
import { chainIdCaCerts } from "./tls/chain-validation.ts";
import { readCertFields } from "./tls/cert-fields.ts";

/** A service client's long-term credentials (Transport.hs:ServiceCredentials). */
export interface ServiceCredentials {
  readonly role: ServiceRole;
  /** The TLS client chain (DER, leaf first), also sent in the hello. */
  readonly certChain: readonly Uint8Array[];
  /** The leaf certificate's key: signs the per-session service key. */
  readonly certSignKey: SignPrivateKey;
  /** The per-session Ed25519 key that signs service commands. */
  readonly sessionKey: SignPrivateKey;
}

export interface ClientHandshakeConfig {
  readonly keyHash: Uint8Array;
  readonly versionRange: VersionRange;
  /** A proxy's connection to a destination router (no block encryption). */
  readonly proxyServer: boolean;
  /** Send an X25519 key in the hello (Client.hs:agreeSecret, on for ordinary clients). */
  readonly agreeSecret: boolean;
  readonly service?: ServiceCredentials;
  /** Fixed hello key (tests reproducing reference vectors); random otherwise. */
  readonly sessionKey?: DhPrivateKey;
}

export class HandshakeError extends Error {
  override name = "HandshakeError";
  constructor(readonly transportError: TransportError) {
    super(transportErrorText(transportError));
  }
}

function transportErrorText(e: TransportError): string {
  return e.type === "HANDSHAKE" ? `HANDSHAKE ${e.err}` : e.type;
}

const fail = (e: TransportError): never => {
  throw new HandshakeError(e);
};

async function readHandshakePayload(t: BlockTransport): Promise<Uint8Array> {
  const block = await t.readBlock();
  if (block === null) throw new HandshakeError({ type: "HANDSHAKE", err: "PARSE" });
  const p = unPad(block);
  if (p === null) fail({ type: "BLOCK" });
  return p!.slice();
}

export async function clientHandshake(t: BlockTransport, cfg: ClientHandshakeConfig): Promise<SmpHandle<ClientAuth>> {
  const sessionId = t.stream.sessionId;
  let hello: ServerHello;
  try {
    hello = parseServerHello(new Reader(await readHandshakePayload(t)));
  } catch (e) {
    if (e instanceof HandshakeError) throw e;
    throw new HandshakeError({ type: "HANDSHAKE", err: "PARSE" });
  }
  if (!bytesEqual(hello.sessionId, sessionId)) fail({ type: "SESSION" });

  // A proxy talking to a router older than v14 stays at ≤ v10 (Transport.hs:smpClientHandshake).
  const own =
    cfg.proxyServer && hello.versionRange.max < proxyServerHandshakeSMPVersion
      ? versionRange(cfg.versionRange.min, Math.max(cfg.versionRange.min, deletedEventSMPVersion))
      : cfg.versionRange;
  const vr = compatibleVRange(hello.versionRange, own);
  if (vr === null) return fail({ type: "VERSION" });

  let peerServerPubKey: Uint8Array | null = null;
  if (hello.certKey !== null) {
    const badAuth = { type: "HANDSHAKE", err: "BAD_AUTH" } as const;
    const shape = chainIdCaCerts(hello.certKey.certChain);
    if (shape.kind !== "valid" || !bytesEqual(sha256(shape.idCert), cfg.keyHash)) fail(badAuth);
    // The signed key is checked with the TLS peer's leaf key, not the chain in the hello.
    const leaf = t.stream.peerCertificateChain[0];
    if (leaf === undefined) fail(badAuth);
    try {
      const serverKey = decodePubKey(readCertFields(leaf!).spki);
      const spki = verifySignedObject(hello.certKey.signed ?? hello.certKey.signedPubKey, serverKey);
      const k = spki === null ? null : decodePubKey(spki);
      if (k === null || k.alg !== "x25519") fail(badAuth);
      peerServerPubKey = k!.raw;
    } catch (e) {
      if (e instanceof HandshakeError) throw e;
      fail(badAuth);
    }
  }

  const v = vr.max;
  const s = cfg.service;
  const serviceVersion = s?.role === "M" ? rcvServiceSMPVersion : serviceCertsSMPVersion;
  const useService = s !== undefined && v >= serviceVersion;
  const ownKey = cfg.agreeSecret ? (cfg.sessionKey ?? DhPrivateKey.generate()) : null;
  let clientService: ClientService | null = null;
  if (useService) {
    const signedPubKey = signX509(s!.certSignKey, publicKey("ed25519", s!.sessionKey.publicRaw).der);
    clientService = { role: s!.role, certKey: { certChain: s!.certChain, signedPubKey } };
  }
  const w = new Writer(4096);
  encodeClientHello(w, {
    version: v,
    keyHash: cfg.keyHash,
    authPubKey: ownKey === null ? null : publicKey("x25519", ownKey.publicRaw),
    proxyServer: cfg.proxyServer,
    clientService,
  });
  const block = new Uint8Array(BLOCK_SIZE);
  padInto(w.view_(), block, 0, BLOCK_SIZE);
  t.writeBlock(block);

  let serviceId: Uint8Array | null = null;
  if (clientService !== null) {
    let resp;
    try {
      resp = parseServerHandshakeResponse(new Reader(await readHandshakePayload(t)));
    } catch (e) {
      if (e instanceof HandshakeError) throw e;
      throw new HandshakeError({ type: "HANDSHAKE", err: "PARSE" });
    }
    if (resp.type === "E") fail(resp.err);
    else serviceId = resp.serviceId;
  }

  let auth: ClientAuth | null = null;
  let encrypt = null;
  if (peerServerPubKey !== null && hello.certKey !== null) {
    const sessSecret = ownKey === null ? null : x25519(peerServerPubKey, ownKey);
    auth = { peerServerPubKey, peerServerCertKey: hello.certKey, sessSecret, serviceId };
    if (sessSecret !== null && !cfg.proxyServer && v >= encryptedBlockSMPVersion) encrypt = clientChains(sessionId, sessSecret);
  }
  return new SmpHandle(t, transmissionParams(v, sessionId), vr, auth as ClientAuth, encrypt);
}
