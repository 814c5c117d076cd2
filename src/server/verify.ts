/**
 * Command authorization (Server.hs:verifyQueueTransmission, verifyCmdAuthorization,
 * dummyVerifyCmd). Every failure path costs the same work as a success for the same kind of
 * authorization: a missing queue, a key of another type or a wrong key all run one verification
 * (against a dummy key where there is no real one), so timing reveals nothing about queues.
 */
import { x25519 } from "../crypto/dh.ts";
import { cbVerifyWithSecret } from "../crypto/authenticator.ts";
import { cbNonceInto } from "../crypto/nonce.ts";
import { decodePubKey, type PublicKey } from "../crypto/keys.ts";
import { verifyEd25519, verifySignature } from "../crypto/sign.ts";
import { dummyKeyEd25519, dummyKeyEd448, dummyKeyX25519 } from "../crypto/dummy-keys.ts";
import { bytesEqual } from "../encoding/bytes.ts";
import { ERR, type ErrorType } from "../protocol/errors.ts";
import { commandParty, partyClientRole, useServiceAuth } from "../protocol/credentials.ts";
import { prefixAuthorized, type ReceivedTransmission } from "../protocol/transmission.ts";
import type { ServerAuth } from "../transport/handle.ts";
import type { QueueRec } from "../store/types.ts";

const nonce = new Uint8Array(24);

/** Verifies `t`'s authorization of `authorized` with `key` (Server.hs:verifyCmdAuthorization). */
function verifyWith(auth: ServerAuth, t: ReceivedTransmission, authorized: Uint8Array, key: PublicKey): boolean {
  switch (t.authKind) {
    case "ed25519":
    case "ed448":
      if (key.alg === t.authKind) return verifySignature(key, t.auth, authorized);
      verifySignature(t.authKind === "ed25519" ? dummyKeyEd25519 : dummyKeyEd448, t.auth, authorized);
      return false;
    case "authenticator": {
      const k = key.alg === "x25519" ? key : dummyKeyX25519;
      const ok = cbVerifyWithSecret(x25519(k.raw, auth.serverPrivKey), cbNonceInto(t.corrId, nonce), t.auth, authorized);
      return ok && k === key;
    }
    default:
      return false;
  }
}

/** Server.hs:dummyVerifyCmd: the work of one verification of this kind, result ignored. */
export function dummyVerify(auth: ServerAuth, t: ReceivedTransmission): void {
  if (t.authorized === null) return;
  switch (t.authKind) {
    case "ed25519":
      verifySignature(dummyKeyEd25519, t.auth, t.authorized);
      return;
    case "ed448":
      verifySignature(dummyKeyEd448, t.auth, t.authorized);
      return;
    case "authenticator":
      cbVerifyWithSecret(x25519(dummyKeyX25519.raw, auth.serverPrivKey), cbNonceInto(t.corrId, nonce), t.auth, t.authorized);
      return;
    default:
      return;
  }
}

/** AUTH unless `key` verifies the transmission's authorization of `authorized`. */
function withKey(auth: ServerAuth, t: ReceivedTransmission, authorized: Uint8Array | null, key: PublicKey): ErrorType | null {
  return authorized !== null && verifyWith(auth, t, authorized, key) ? null : ERR.AUTH;
}

/** No key to check against: the work of a verification anyway, then AUTH. */
function dummy(auth: ServerAuth, t: ReceivedTransmission): ErrorType {
  dummyVerify(auth, t);
  return ERR.AUTH;
}

function keyOf(der: Uint8Array): PublicKey {
  return decodePubKey(der);
}

/**
 * Server.hs:verifyQueueTransmission for a transmission whose queue (if its party needs one)
 * was found. Returns null when the command may run, or the error to answer.
 */
export function verifyTransmission(
  auth: ServerAuth,
  block: Uint8Array,
  t: ReceivedTransmission,
  q: QueueRec | null,
): ErrorType | null {
  const cmd = t.command!;
  const service = auth.peerService;
  const role = partyClientRole(commandParty(cmd.tag));
  if (service !== null && role !== null && service.role !== role) return ERR.CMD_PROHIBITED;

  // The service signature: required on NEW/SUB/NSUB in a service session, absent otherwise.
  if (useServiceAuth(cmd.tag)) {
    if (service !== null && t.serviceSig !== null) {
      if (t.authorized === null || !verifyEd25519(service.serviceKey.raw, t.serviceSig, t.authorized)) return ERR.SERVICE;
    } else if (service !== null || t.serviceSig !== null) return ERR.SERVICE;
  } else if (t.serviceSig !== null) return ERR.SERVICE;

  // Keys sign `certHash ‖ authorized` when a service signature is present (Client.hs:authTransmission).
  let authorized = t.authorized;
  if (authorized !== null && service !== null && t.serviceSig !== null) authorized = prefixAuthorized(block, t, service.certHash);

  switch (cmd.tag) {
    case "NEW":
      return withKey(auth, t, authorized, cmd.req.rcvAuthKey);
    case "SUB":
    case "KEY":
    case "RKEY":
    case "LSET":
    case "LDEL":
    case "NKEY":
    case "NDEL":
    case "GET":
    case "ACK":
    case "OFF":
    case "DEL":
    case "QUE": {
      // Any of the recipient keys (RKEY lists several); each one costs one verification.
      let ok = false;
      for (const k of q!.recipientKeys) if (withKey(auth, t, authorized, keyOf(k)) === null) ok = true;
      return ok ? null : ERR.AUTH;
    }
    case "SUBS":
    case "NSUBS":
      if (service !== null && t.authKind === "ed25519" && t.serviceSig === null && t.authorized !== null) {
        if (bytesEqual(t.entityId, service.serviceId) && verifyEd25519(service.serviceKey.raw, t.auth, t.authorized)) return null;
      }
      return ERR.SERVICE;
    case "SKEY":
    case "LKEY": {
      // Only a messaging queue, and only its own sender key (or none yet); verified with the new key itself.
      const qr = q!;
      const allowed = qr.queueMode === "M" && (qr.senderKey === null || bytesEqual(qr.senderKey, cmd.key.der));
      return allowed ? withKey(auth, t, authorized, cmd.key) : dummy(auth, t);
    }
    case "SEND": {
      const qr = q!;
      // Accepted without authorization until the queue is secured (KEY, SKEY or LKEY).
      if (qr.senderKey === null) return t.authKind === "none" ? null : ERR.AUTH;
      return withKey(auth, t, authorized, keyOf(qr.senderKey));
    }
    case "LGET": {
      const qr = q!;
      return isContactQueue(qr) ? null : ERR.AUTH;
    }
    case "NSUB": {
      const n = q!.notifier;
      return n === null ? dummy(auth, t) : withKey(auth, t, authorized, keyOf(n.notifierKey));
    }
    case "PING":
    case "PRXY":
    case "PFWD":
    case "RFWD":
    case "RSLV":
      return null;
  }
}

/** Server.hs:isContactQueue: contact mode, or a pre-SKEY queue without sender key. */
export function isContactQueue(q: QueueRec): boolean {
  return q.queueMode === "C" || (q.queueMode === null && q.senderKey === null);
}

/** Server.hs:isSecuredMsgQueue. */
export function isSecuredMsgQueue(q: QueueRec): boolean {
  return q.queueMode !== "C" && q.senderKey !== null;
}
