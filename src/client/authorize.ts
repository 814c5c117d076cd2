/**
 * Client side of transmission authorization (Client.hs:mkTransmission_, authTransmission) and the
 * encoding of the transmission that carries it (Protocol.hs:encodeTransmissionForAuth, tEncode):
 *
 *   authorized = short(sessionId) ‖ short(corrId) ‖ short(entityId) ‖ command
 *   entity key: Ed25519/Ed448 signature, or an X25519 authenticator
 *               cbAuthenticate(server session key, own key, nonce = corrId, ·)
 *   over `authorized` — or `certHash ‖ authorized` when a service session sends NEW/SUB/NSUB,
 *   which the service session key then also signs (`authorized` only), so that a MITM inside TLS
 *   cannot swap the service.
 *
 * Hot path: one encoder per connection, two reused writers; what is allocated per transmission is
 * what the signature primitives return.
 */
import { Writer } from "../encoding/writer.ts";
import { DhPrivateKey, x25519 } from "../crypto/dh.ts";
import { cbAuthenticateWithSecret } from "../crypto/authenticator.ts";
import { cbNonceInto, NONCE_LEN } from "../crypto/nonce.ts";
import type { SignPrivateKey } from "../crypto/sign.ts";
import { encodeCommand, type Command } from "../protocol/commands.ts";
import { useServiceAuth } from "../protocol/credentials.ts";
import { encodeTransmission, type TransmissionParams } from "../protocol/transmission.ts";
import { SMPClientError } from "./errors.ts";

/** A queue authorization key: Ed25519/Ed448 signs, X25519 authenticates (Crypto.hs:APrivateAuthKey). */
export type AuthKey = SignPrivateKey | DhPrivateKey;

/** What a service session adds to NEW/SUB/NSUB (Transport.hs:THClientService). */
export interface ServiceAuth {
  /** SHA-256 of the service's identity certificate. */
  readonly certHash: Uint8Array;
  /** The per-session Ed25519 key announced in the hello. */
  readonly sessionKey: SignPrivateKey;
}

const EMPTY: Uint8Array = new Uint8Array(0);

export class TransmissionEncoder {
  /** `[certHash] ‖ authorized` of the transmission being encoded. */
  private readonly forAuth = new Writer(1024);
  private readonly nonce = new Uint8Array(NONCE_LEN);
  /** X25519 secrets with the server's session key, per own key (one DH per key, not per transmission). */
  private readonly secrets = new WeakMap<DhPrivateKey, Uint8Array>();

  constructor(
    readonly params: TransmissionParams,
    /** The server's per-connection X25519 key from its hello (null: no X25519 authorization possible). */
    private readonly serverKey: Uint8Array | null,
    private readonly service: ServiceAuth | null,
  ) {}

  /**
   * Appends one transmission (`tEncode`, without the batch's Large prefix) to `out`.
   * `key` null = unauthorized (e.g. SEND before the queue is secured, PING, LGET).
   */
  encode(out: Writer, corrId: Uint8Array, entityId: Uint8Array, cmd: Command, key: AuthKey | null): void {
    const p = this.params;
    const fa = this.forAuth.reset();
    const service = key !== null && this.service !== null && useServiceAuth(cmd.tag) ? this.service : null;
    if (service !== null) fa.bytes(service.certHash);
    const aStart = fa.pos;
    fa.short(p.sessionId).short(corrId).short(entityId);
    encodeCommand(fa, cmd, p.version);
    const authorized = fa.buf.subarray(aStart, fa.pos);
    let auth = EMPTY;
    let serviceSig: Uint8Array | null = null;
    if (key !== null) {
      const signed = service === null ? authorized : fa.buf.subarray(0, fa.pos);
      auth = this.authorize(key, corrId, signed);
      if (service !== null) serviceSig = service.sessionKey.sign(authorized);
    }
    const toSend = p.implySessId ? authorized.subarray(1 + p.sessionId.length) : authorized;
    encodeTransmission(out, p, auth, serviceSig, toSend);
  }

  private authorize(key: AuthKey, corrId: Uint8Array, signed: Uint8Array): Uint8Array {
    if (!(key instanceof DhPrivateKey)) return key.sign(signed);
    if (this.serverKey === null) throw new SMPClientError("no-server-auth", "X25519 authorization needs the server's session key");
    let secret = this.secrets.get(key);
    if (secret === undefined) {
      secret = x25519(this.serverKey, key);
      this.secrets.set(key, secret);
    }
    return cbAuthenticateWithSecret(secret, cbNonceInto(corrId, this.nonce), signed);
  }
}
