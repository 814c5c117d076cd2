/**
 * This router as the destination of a proxied command (Server.hs:processForwardedCommand).
 *
 *   RFWD(M, seal(sessSecret, M, FwdTransmission{N, fwdVersion, fwdKey, seal(dh(fwdKey, key), N, block)}))
 *   RRES(M, seal(sessSecret, rev M, FwdResponse{N, seal(dh(fwdKey, key), rev N, response block)}))
 *
 * `sessSecret` belongs to the proxy's connection, the inner secret to the client's per-command key
 * and this connection's hello key: the proxy cannot read the command, and this router does not
 * learn which client connection sent it. The inner command runs through the normal lookup,
 * verification and command code on a virtual client whose parameters are those of the forwarded
 * transmission; whatever that client sends is sealed and answered as RRES.
 */
import { Reader } from "../../encoding/reader.ts";
import { Writer } from "../../encoding/writer.ts";
import { x25519, type DhPrivateKey } from "../../crypto/dh.ts";
import { cbNonce, reverseNonce } from "../../crypto/nonce.ts";
import { cbDecrypt, cbDecryptNoPad, cbEncrypt, cbEncryptNoPad } from "../../crypto/secretbox.ts";
import { BatchCursor } from "../../protocol/batch.ts";
import { errMsg, type BrokerMsg } from "../../protocol/broker-messages.ts";
import type { Command } from "../../protocol/commands.ts";
import { ERR, type ErrorType } from "../../protocol/errors.ts";
import { encodeFwdResponse, parseFwdTransmission, type FwdTransmission } from "../../protocol/fwd.ts";
import { parseTransmission, withVersion, type ReceivedTransmission, type TransmissionParams } from "../../protocol/transmission.ts";
import { paddedProxiedTLength } from "../../protocol/versions.ts";
import { SmpHandle, type ServerAuth } from "../../transport/handle.ts";
import { Client, fail, type Env } from "../env.ts";
import { PROXY_NO_AUTH } from "./errors.ts";

const EMPTY = new Uint8Array(0);

export interface OpenedForward {
  readonly fwd: FwdTransmission;
  /** dh(fwdKey, this connection's key): seals the client's command and its answer. */
  readonly clientSecret: Uint8Array;
  /** The client's block: `count ‖ Large(transmission)…`, unpadded. */
  readonly block: Uint8Array;
}

/** Both decryption layers; an ErrorType is answered to the proxy as plain ERR. */
export function openForwarded(sessSecret: Uint8Array, serverPrivKey: DhPrivateKey, rfwdCorrId: Uint8Array, encFwd: Uint8Array): OpenedForward | ErrorType {
  const plain = cbDecryptNoPad(sessSecret, cbNonce(rfwdCorrId), encFwd);
  if (plain === null) return ERR.CRYPTO;
  let fwd: FwdTransmission;
  try {
    fwd = parseFwdTransmission(new Reader(plain));
  } catch {
    return ERR.CMD_SYNTAX;
  }
  const clientSecret = x25519(fwd.fwdKey.raw, serverPrivKey);
  const block = cbDecrypt(clientSecret, cbNonce(fwd.fwdCorrId), fwd.encTransmission);
  if (block === null) return ERR.CRYPTO;
  return { fwd, clientSecret, block };
}

/** Both encryption layers of RRES, nonces reversed; null when the response does not fit (→ ERR BLOCK). */
export function sealForwardedResponse(
  sessSecret: Uint8Array,
  clientSecret: Uint8Array,
  rfwdCorrId: Uint8Array,
  fwdCorrId: Uint8Array,
  responseBlock: Uint8Array,
): Uint8Array | null {
  if (responseBlock.length + 2 > paddedProxiedTLength) return null;
  const encResponse = cbEncrypt(clientSecret, reverseNonce(cbNonce(fwdCorrId)), responseBlock, paddedProxiedTLength);
  const w = new Writer(encResponse.length + 256);
  encodeFwdResponse(w, { fwdCorrId, encResponse });
  return cbEncryptNoPad(sessSecret, reverseNonce(cbNonce(rfwdCorrId)), w.view_());
}

/** Server.hs:rejectOrVerify: the commands a sender may have forwarded. */
export function forwardingAllowed(tag: Command["tag"]): boolean {
  return tag === "SEND" || tag === "SKEY" || tag === "LKEY" || tag === "LGET" || tag === "RSLV";
}

/**
 * A connection handle that is no connection: the forwarded transmission's parameters and
 * authorization context, and every block "written" to it handed to `deliver`.
 */
class ForwardedHandle extends SmpHandle<ServerAuth> {
  /** Where the block written next goes: set for each forwarded command. */
  deliver: (payload: Uint8Array) => void = () => {};

  override writePayload(payload: Uint8Array): boolean {
    this.deliver(payload);
    return true;
  }

  override async readPayload(): Promise<null> {
    return null;
  }

  override close(): void {}
}

interface VirtualClient {
  readonly vc: Client;
  readonly handle: ForwardedHandle;
}

/**
 * Forwarded commands run one at a time on their connection, so one virtual client per proxy
 * connection (and forwarded version) is reused — except for a command answered later (RSLV),
 * which keeps its own.
 */
const virtualClients = new WeakMap<Client, VirtualClient>();

function virtualClient(c: Client, params: TransmissionParams, reuse: boolean): VirtualClient {
  const cached = reuse ? virtualClients.get(c) : undefined;
  if (cached !== undefined && cached.vc.version === params.version) return cached;
  // Verified as the reference does (THAuthServer): this connection's key, no service.
  const auth: ServerAuth = { serverPrivKey: c.handle.auth.serverPrivKey, sessSecret: null, peerService: null };
  const handle = new ForwardedHandle(c.handle.transport, params, c.handle.serverVRange, auth, null);
  const v = { vc: new Client(handle), handle };
  if (reuse) virtualClients.set(c, v);
  return v;
}

/**
 * RFWD from the proxy connection `c` (entity empty, corrId = M). Outer failures are ERR to the
 * proxy; the forwarded command's own answer (ERR included) travels sealed in RRES — now, or when
 * it completes (RSLV).
 */
export async function processRFWD(srv: Env, c: Client, t: ReceivedTransmission, encFwd: Uint8Array): Promise<void> {
  // Outer failures go to the proxy with an empty entity.
  const refuse = (e: ErrorType) => c.outbox.push(t.corrId, EMPTY, errMsg(e));
  const auth = c.handle.auth;
  if (auth.sessSecret === null) return refuse(PROXY_NO_AUTH);
  const sessSecret = auth.sessSecret;
  const opened = openForwarded(sessSecret, auth.serverPrivKey, t.corrId, encFwd);
  if (!("block" in opened)) return refuse(opened);
  const { fwd, clientSecret, block } = opened;

  // Protocol.hs:tParse with the forwarded version: one transmission only.
  const params = withVersion(c.handle.params, fwd.fwdVersion);
  const cursor = new BatchCursor();
  let inner: ReceivedTransmission | null = null;
  if (cursor.open(block)) {
    if (cursor.count !== 1) return refuse(ERR.BLOCK);
    cursor.next();
    inner = parseTransmission(block, cursor.start, cursor.end, params, new Reader(EMPTY));
  }

  const rfwdCorrId = t.corrId.slice();
  let now = true;
  let answered = false;
  const deliver = (payload: Uint8Array) => {
    answered = true;
    const sealed = sealForwardedResponse(sessSecret, clientSecret, rfwdCorrId, fwd.fwdCorrId, payload);
    const msg: BrokerMsg = sealed === null ? errMsg(ERR.BLOCK) : { tag: "RRES", encFwdResponse: sealed };
    if (now) c.outbox.push(rfwdCorrId, EMPTY, msg);
    else srv.sendLater(c, rfwdCorrId, EMPTY, msg);
  };
  const { vc, handle } = virtualClient(c, params, inner?.command?.tag !== "RSLV");
  handle.deliver = deliver;

  if (inner === null) vc.outbox.push(EMPTY, EMPTY, errMsg(ERR.BLOCK));
  else if (inner.error !== null) fail(vc, inner, inner.error);
  else if (!forwardingAllowed(inner.command!.tag)) fail(vc, inner, ERR.CMD_PROHIBITED);
  else await srv.runTransmission(vc, block, inner);
  srv.stats.proxy.msgFwdsRecv++;

  const pending = vc.outbox.size > 0;
  vc.outbox.flush();
  now = false;
  // The answer did not fit a block (TELargeMsg in batchTransmissions): ERR BLOCK to the proxy.
  if (pending && !answered) refuse(ERR.BLOCK);
}
