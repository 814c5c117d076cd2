/**
 * What each verified command does (Server.hs:processCommand and its helpers). Responses go to
 * the connection's outbox in command order; events for other connections go through
 * `srv.push` and `srv.subscribers`. Everything written to the store here is committed before
 * any of it is answered.
 */
import { bytesEqual, constantTimeEqual, idKey } from "../encoding/bytes.ts";
import { base64 } from "../encoding/base64.ts";
import { Reader } from "../encoding/reader.ts";
import { DhPrivateKey, x25519 } from "../crypto/dh.ts";
import { sha3_384 } from "../crypto/digest.ts";
import { publicKey } from "../crypto/keys.ts";
import { randomNonce } from "../crypto/nonce.ts";
import { errMsg, MSG_, type BrokerMsg } from "../protocol/broker-messages.ts";
import type { Command, NewQueueReq } from "../protocol/commands.ts";
import { ERR, parseBlockingInfo, type ErrorType } from "../protocol/errors.ts";
import type { QueueInfo } from "../protocol/queue-info.ts";
import type { ReceivedTransmission } from "../protocol/transmission.ts";
import { maxMessageLength } from "../protocol/versions.ts";
import type { QueueRec, StoredMessage, NewQueue, NtfCreds } from "../store/types.ts";
import { fail, reply, setDelivered, type Client, type Env, type Sub } from "./env.ts";
import { randomId } from "./ids.ts";
import { encryptNtfMeta, msgOf } from "./message-encryption.ts";
import { isSecuredMsgQueue } from "./verify.ts";
import { noResolverReply } from "./names/service.ts";
import { processPFWD, processPRXY } from "./proxy/proxy.ts";
import { processRFWD } from "./proxy/relay.ts";
import { deliverPendingNtfs, dissociateQueue, subscribeService, subscribeServiceNotifier, subscribeServiceQueue } from "./services.ts";

type Cmd<T extends Command["tag"]> = Extract<Command, { tag: T }>;

const DAY = 86400;

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

function today(): number {
  const s = nowSec();
  return s - (s % DAY);
}

function blockedError(q: QueueRec): ErrorType {
  try {
    return { type: "BLOCKED", info: parseBlockingInfo(new Reader(q.blockingInfo ?? new Uint8Array(0))) };
  } catch {
    return { type: "BLOCKED", info: { reason: "spam", notice: null } };
  }
}

export async function processCommand(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec | null): Promise<void> {
  const cmd = t.command!;

  switch (cmd.tag) {
    case "PING":
      c.outbox.push(t.corrId, EMPTY, MSG_.PONG);
      return;
    case "NEW":
      return createQueue(srv, c, t, cmd.req);
    case "SEND":
      return sendMessage(srv, c, t, q!, cmd);
    case "OFF": {
      const r = await srv.store.queues.suspendQueue(q!);
      return r === "OK" ? reply(c, t, MSG_.OK) : fail(c, t, ERR.AUTH);
    }
    case "DEL":
      return deleteQueue(srv, c, t, q!);
    case "NSUB":
      return subscribeNotifications(srv, c, t, q!);
    case "PRXY":
      return processPRXY(srv, c, t, cmd);
    case "PFWD":
      return processPFWD(srv, c, t, cmd);
    case "RFWD":
      return processRFWD(srv, c, t, cmd.encFwdTransmission);
    case "RSLV":
      return resolveName(srv, c, t, cmd.name);
    case "SUBS":
      return subscribeService(srv, c, t, "rcv");
    case "NSUBS":
      return subscribeService(srv, c, t, "ntf");
  }

  // Commands that go through Server.hs:withQueue: refused on blocked queues, touch updatedAt.
  const qr = q!;
  if (qr.status === "blocked") return fail(c, t, blockedError(qr));
  await touchQueue(srv, qr);

  switch (cmd.tag) {
    case "SUB":
      return subscribeQueue(srv, c, t, qr);
    case "GET":
      return getMessage(srv, c, t, qr);
    case "ACK":
      return acknowledgeMsg(srv, c, t, qr, cmd.msgId);
    case "KEY":
      return (await secureQueue(srv, qr, cmd.key.der)) ? reply(c, t, MSG_.OK) : fail(c, t, ERR.AUTH);
    case "SKEY":
      if (qr.queueMode !== "M") return fail(c, t, ERR.AUTH);
      return (await secureQueue(srv, qr, cmd.key.der)) ? reply(c, t, MSG_.OK) : fail(c, t, ERR.AUTH);
    case "LKEY":
      if (qr.queueMode !== "M") return fail(c, t, ERR.AUTH);
      return (await secureQueue(srv, qr, cmd.key.der)) ? replyLink(c, t, qr) : fail(c, t, ERR.AUTH);
    case "LGET":
      return replyLink(c, t, qr);
    case "RKEY": {
      if (qr.queueMode !== "C") return fail(c, t, ERR.AUTH);
      const r = await srv.store.queues.updateRecipientKeys(qr, cmd.keys.map((k) => k.der));
      return r === "OK" ? reply(c, t, MSG_.OK) : fail(c, t, ERR.AUTH);
    }
    case "LSET": {
      if (isSecuredMsgQueue(qr)) return fail(c, t, ERR.AUTH);
      if (qr.link !== null && !bytesEqual(qr.link.linkId, cmd.linkId)) return fail(c, t, ERR.AUTH);
      const r = await srv.store.queues.setQueueLink(qr, {
        linkId: cmd.linkId.slice(),
        fixed: cmd.data.fixedData.slice(),
        user: cmd.data.userData.slice(),
      });
      return r === "OK" ? reply(c, t, MSG_.OK) : fail(c, t, ERR.AUTH);
    }
    case "LDEL": {
      if (qr.link === null) return reply(c, t, MSG_.OK);
      const r = await srv.store.queues.deleteQueueLink(qr);
      return r === "OK" ? reply(c, t, MSG_.OK) : fail(c, t, ERR.AUTH);
    }
    case "NKEY":
      return addNotifier(srv, c, t, qr, cmd);
    case "NDEL":
      return deleteNotifier(srv, c, t, qr);
    case "QUE":
      return queueInfo(srv, c, t, qr);
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Server.hs:resolveNameMsg runs on its own thread: the answer is sent when the resolver
 * replies, while the connection's other commands go on.
 */
function resolveName(srv: Env, c: Client, t: ReceivedTransmission, name: string): void {
  const names = srv.names;
  if (names === undefined) {
    const r = noResolverReply(srv.namesStats);
    c.outbox.push(t.corrId, EMPTY, r.tag === "ERR" ? errMsg(r.err) : { tag: "RNAME", json: r.json });
    return;
  }
  const corrId = t.corrId.slice();
  void names.resolve(name).then((r) => {
    srv.sendLater(c, corrId, EMPTY, r.tag === "RNAME" ? { tag: "RNAME", json: r.json } : errMsg(r.err));
  });
}

/** KEY, SKEY, LKEY (Server.hs:secureQueue_): the sender's key, once. */
async function secureQueue(srv: Env, q: QueueRec, senderKey: Uint8Array): Promise<boolean> {
  if ((await srv.store.queues.secureQueue(q, senderKey)) !== "OK") return false;
  srv.stats.qSecured++;
  return true;
}

/** Server.hs:withQueue_ updates the queue's date once a day at most. */
async function touchQueue(srv: Env, q: QueueRec): Promise<void> {
  const d = today();
  if (q.updatedAt !== d) await srv.store.queues.updateQueueTime(q, d);
}

function replyLink(c: Client, t: ReceivedTransmission, q: QueueRec): void {
  if (q.link === null) return fail(c, t, ERR.AUTH);
  reply(c, t, {
    tag: "LNK",
    senderId: q.senderId,
    data: { fixedData: q.link.fixed, userData: q.link.user },
  });
}

// ---- NEW (Server.hs:createQueue) ----

async function createQueue(srv: Env, c: Client, t: ReceivedTransmission, req: NewQueueReq): Promise<void> {
  const { allowNewQueues, createPassword } = srv.options.auth;
  const authOk =
    createPassword === undefined || (req.basicAuth !== null && constantTimeEqual(req.basicAuth, createPassword));
  if (!allowNewQueues || !authOk) return fail(c, t, ERR.AUTH);
  const serviceId = c.serviceId;
  if (serviceId !== null && req.subMode === "C") return fail(c, t, ERR.CMD_PROHIBITED);

  const srvDh = DhPrivateKey.generate();
  const rcvDhSecret = x25519(req.rcvDhKey.raw, srvDh);
  const ntfKeys =
    req.ntfCreds === null
      ? null
      : (() => {
          const k = DhPrivateKey.generate();
          return { notifierKey: req.ntfCreds.notifierKey, secret: x25519(req.ntfCreds.dhKey.raw, k), pub: k.publicRaw };
        })();
  // A client-chosen sender id must be the hash of the corrId: no "does this id exist" oracle.
  const expectedSndId = sha3_384(t.corrId).subarray(0, 24);
  const qrd = req.queueReqData;

  for (let attempt = 0; attempt < 3; attempt++) {
    let senderId: Uint8Array;
    let clientIds = false;
    let link: NewQueue["link"] = null;
    if (qrd !== null && qrd.link !== null) {
      clientIds = true;
      senderId = qrd.link.senderId.slice();
      const linkId = qrd.mode === "C" ? qrd.link.linkId.slice() : randomId();
      link = { linkId, fixed: qrd.link.data.fixedData.slice(), user: qrd.link.data.userData.slice() };
    } else senderId = randomId();
    if (clientIds && !bytesEqual(senderId, expectedSndId)) return fail(c, t, ERR.CMD_PROHIBITED);

    const recipientId = randomId();
    const notifier: NtfCreds | null =
      ntfKeys === null ? null : { notifierId: randomId(), notifierKey: ntfKeys.notifierKey.der, rcvNtfDhSecret: ntfKeys.secret, serviceId: null };
    const r = await srv.store.queues.createQueue({
      recipientId,
      recipientKeys: [req.rcvAuthKey.der],
      rcvDhSecret,
      senderId,
      senderKey: null,
      queueMode: qrd?.mode ?? null,
      link,
      notifier,
      status: "active",
      blockingInfo: null,
      updatedAt: today(),
      rcvServiceId: serviceId,
    });
    if (r === "DUPLICATE") {
      if (clientIds) return fail(c, t, ERR.AUTH); // no retry when the client chose the ids
      continue;
    }
    srv.stats.qCreated++;
    srv.stats.qCount++;
    if (notifier !== null) srv.stats.ntfNewCreated++;
    let answered: (() => void) | null = null;
    if (req.subMode === "S") {
      if (serviceId === null) {
        const key = idKey(recipientId);
        subscribe(srv, c, key, r.recipientId);
        srv.subscribers.headRead(key, c); // a new queue: nothing to read
      } else {
        srv.subscribers.subscribeServiceQueue("rcv", r.recipientId, c, serviceId);
        // With several nodes: answered once this connection is its service's holder for all of them.
        const answering = srv.subscribers.answerOnceRecorded("rcv", c);
        if (answering !== null) answered = await answering;
      }
    }
    reply(c, t, {
      tag: "IDS",
      ids: {
        rcvId: recipientId,
        sndId: senderId,
        rcvPublicDhKey: publicKey("x25519", srvDh.publicRaw),
        queueMode: qrd?.mode ?? null,
        linkId: link?.linkId ?? null,
        serviceId,
        serverNtfCreds: notifier === null ? null : { notifierId: notifier.notifierId, dhKey: publicKey("x25519", ntfKeys!.pub) },
      },
    });
    answered?.();
    return;
  }
  fail(c, t, ERR.INTERNAL);
}

// ---- subscriptions and delivery (Server.hs:subscribeQueueAndDeliver, getMessage, acknowledgeMsg) ----

/** Makes `c` the queue's subscriber (`key` = idKey of its recipient id); a previous subscriber connection gets END. */
function subscribe(srv: Env, c: Client, key: string, ownedId: Uint8Array): Sub {
  srv.subscribers.subscribe("rcv", ownedId, c, key);
  return c.subs.get(key)!;
}

async function subscribeQueue(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const key = idKey(q.recipientId);
  let sub = c.subs.get(key);
  if (sub !== undefined && sub.kind === "prohibit") {
    srv.stats.qSubProhibited++;
    return fail(c, t, ERR.CMD_PROHIBITED);
  }
  if (c.serviceId !== null) return subscribeServiceQueue(srv, c, t, q, key, sub);
  const isNew = sub === undefined;
  if (sub !== undefined) {
    srv.stats.qSubDuplicate++;
    sub.delivered = null;
  } else {
    if (q.rcvServiceId !== null) await dissociateQueue(srv, "rcv", c, q);
    sub = subscribe(srv, c, key, q.recipientId);
  }
  try {
    const head = await srv.store.messages.peekMsg(q);
    reply(c, t, { tag: "SOK", serviceId: c.serviceId });
    // A SEND may have pushed the head while the peek was pending: one unacknowledged message at most.
    if (head !== null && sub.delivered === null) {
      // Server.hs:subscribeQueueAndDeliver counts qSub only for a new subscription with a message
      // to deliver (Stats.hs: "only includes subscriptions when there were pending messages").
      if (isNew) srv.stats.qSub++;
      setDelivered(sub, head.msgId);
      c.outbox.push(EMPTY, q.recipientId, msgOf(q, head));
    }
  } finally {
    // Also when the read failed (answered with the error): what waited for it may go on.
    srv.subscribers.headRead(key, c);
  }
}

async function getMessage(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const key = idKey(q.recipientId);
  let sub = c.subs.get(key);
  let duplicate = false;
  if (sub === undefined) {
    sub = { kind: "prohibit", delivered: null };
    c.subs.set(key, sub);
  } else if (sub.kind === "server") {
    srv.stats.msgGetProhibited++;
    return fail(c, t, ERR.CMD_PROHIBITED);
  } else {
    duplicate = sub.delivered !== null;
    sub.delivered = null;
  }
  const head = await srv.store.messages.peekMsg(q);
  if (head === null) {
    srv.stats.msgGetNoMsg++;
    return reply(c, t, MSG_.OK);
  }
  if (duplicate) srv.stats.msgGetDuplicate++;
  else srv.stats.msgGet++;
  setDelivered(sub, head.msgId);
  reply(c, t, msgOf(q, head));
}

async function acknowledgeMsg(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec, msgId: Uint8Array): Promise<void> {
  const sub = c.subs.get(idKey(q.recipientId));
  const d = sub?.delivered ?? null;
  if (sub === undefined || d === null || (msgId.length > 0 && !bytesEqual(msgId, d.msgId))) return fail(c, t, ERR.NO_MSG);
  sub.delivered = null;
  if (sub.kind === "prohibit") {
    const deleted = await srv.store.messages.tryDelMsg(q, msgId);
    if (deleted !== null) countReceived(srv, q.recipientId, deleted, true, d.ts);
    return reply(c, t, MSG_.OK);
  }
  const { deleted, next } = await srv.store.messages.tryDelPeekMsg(q, msgId);
  if (deleted !== null) countReceived(srv, q.recipientId, deleted, false, d.ts);
  if (next === null) return reply(c, t, MSG_.OK);
  setDelivered(sub, next.msgId);
  reply(c, t, msgOf(q, next));
}

/** Server.hs:acknowledgeMsg updateStats. */
function countReceived(srv: Env, recipientId: Uint8Array, m: StoredMessage, isGet: boolean, deliveredAt: number): void {
  if (m.quota) return;
  const s = srv.stats;
  s.msgRecv++;
  if (isGet) s.msgRecvGet++;
  s.msgCount--;
  s.activeQueues.add(recipientId);
  if (m.notification) {
    s.msgRecvNtf++;
    s.activeQueuesNtf.add(recipientId);
  }
  s.msgRecvAckTimes.add(nowSec() - deliveredAt);
}

// ---- SEND (Server.hs:sendMessage, tryDeliverMessage, enqueueNotification) ----

async function sendMessage(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec, cmd: Cmd<"SEND">): Promise<void> {
  if (cmd.body.length > maxMessageLength(c.version)) {
    srv.stats.msgSentLarge++;
    return fail(c, t, ERR.LARGE_MSG);
  }
  if (q.status === "off") {
    srv.stats.msgSentAuth++;
    return fail(c, t, ERR.AUTH);
  }
  if (q.status === "blocked") {
    srv.stats.msgSentBlock++;
    return fail(c, t, blockedError(q));
  }
  await touchQueue(srv, q);
  if (q.link !== null && isSecuredMsgQueue(q)) await srv.store.queues.deleteQueueLink(q);
  const st = srv.options.store;
  if (st.expireMessagesOnSend) {
    const expired = await srv.store.messages.deleteExpiredMsgs(q, nowSec() - st.expireMessagesDays * DAY);
    srv.stats.msgExpired += expired;
  }
  const tsMs = Date.now();
  // The body stays a view into the received block: the store takes it while this block is
  // processed, and the pushed MSG is encrypted into a new buffer — no 16 KB copy per SEND.
  const msg = { msgId: randomId(), tsMs, notification: cmd.flags.notification, body: cmd.body };
  const r = await srv.store.messages.writeMsg(q, msg);
  if (r === "AUTH") return fail(c, t, ERR.AUTH);
  if (r === "QUOTA") {
    srv.stats.msgSentQuota++;
    return fail(c, t, ERR.QUOTA);
  }
  const s = srv.stats;
  s.msgSent++;
  s.msgCount++;
  s.activeQueues.add(q.recipientId);
  const stored: StoredMessage = { msgId: msg.msgId, ts: Math.floor(tsMs / 1000), tsMs, quota: false, notification: msg.notification, body: msg.body };
  if (r === "OK_EMPTY") tryDeliver(srv, q, stored);
  if (msg.notification) {
    // Counted with or without a notifier, as Server.hs:sendMessage does.
    s.msgSentNtf++;
    s.activeQueuesNtf.add(q.recipientId);
    if (q.notifier !== null) await notify(srv, q.notifier, stored);
  }
  reply(c, t, MSG_.OK);
}

/**
 * Push the message to the queue's subscriber if nothing is awaiting its ACK (at most one
 * unacknowledged message per subscription); otherwise it goes out as the answer to that ACK.
 */
function tryDeliver(srv: Env, q: QueueRec, m: StoredMessage): void {
  const key = idKey(q.recipientId);
  // The queue's subscriber, or the connection of the service the queue is associated with.
  const target = srv.subscribers.deliverTo("rcv", key, q.rcvServiceId);
  if (target === undefined) return srv.subscribers.available("rcv", q.recipientId, q.rcvServiceId);
  const sub = target.subs.get(key);
  if (sub === undefined || sub.kind !== "server" || sub.delivered !== null) return;
  setDelivered(sub, m.msgId);
  srv.push(target, q.recipientId, msgOf(q, m));
}

/** NMSG to the notifier's subscriber now, or kept for it (NtfStore.hs) until it subscribes. */
async function notify(srv: Env, n: NtfCreds, m: StoredMessage): Promise<void> {
  const nonce = randomNonce();
  const encMeta = encryptNtfMeta(n.rcvNtfDhSecret, nonce, m.msgId, m.ts);
  const target = srv.subscribers.deliverTo("ntf", idKey(n.notifierId), n.serviceId);
  // A subscriber that is not reading gets it later from the store (Server.hs:deliverNtfsThread
  // keeps notifications when the send queue is full).
  if (target !== undefined && !target.outbox.backedUp) {
    srv.stats.countNtfsDelivered(1);
    srv.push(target, n.notifierId, { tag: "NMSG", nonce, encMeta });
    return;
  }
  // Declared but never incremented by the reference (Stats.hs: "no subscriber to notifications"); we count it.
  srv.stats.msgNtfNoSub++;
  await srv.store.ntfs.addNtf(n.notifierId, { msgId: m.msgId, tsMs: m.tsMs, nonce, encMeta });
  if (target === undefined) srv.subscribers.available("ntf", n.notifierId, n.serviceId);
}

// ---- notifiers (Server.hs:addQueueNotifier_, deleteQueueNotifier_, subscribeNotifications) ----

async function addNotifier(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec, cmd: Cmd<"NKEY">): Promise<void> {
  const k = DhPrivateKey.generate();
  const rcvNtfDhSecret = x25519(cmd.dhKey.raw, k);
  for (let attempt = 0; attempt < 3; attempt++) {
    const notifierId = randomId();
    const r = await srv.store.queues.setQueueNotifier(q, { notifierId, notifierKey: cmd.notifierKey.der, rcvNtfDhSecret, serviceId: null });
    if (r === "DUPLICATE") continue;
    if (r === "AUTH") break;
    srv.stats.ntfCreated++;
    if (r.prev !== null) endNotifier(srv, r.prev, c);
    return reply(c, t, { tag: "NID", notifierId, dhKey: publicKey("x25519", k.publicRaw) });
  }
  fail(c, t, ERR.INTERNAL);
}

async function deleteNotifier(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const r = await srv.store.queues.deleteQueueNotifier(q);
  if (r === "AUTH") return fail(c, t, ERR.AUTH);
  if (r.prev !== null) {
    srv.stats.ntfDeleted++;
    endNotifier(srv, r.prev, c);
  }
  reply(c, t, MSG_.OK);
}

/** The notifier was deleted or replaced: its subscriber gets DELD (END below v10, by the encoder). */
function endNotifier(srv: Env, n: NtfCreds, actor: Client | null): void {
  srv.subscribers.end("ntf", n.notifierId, n.serviceId, MSG_.DELD, actor);
}

async function subscribeNotifications(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const n = q.notifier;
  if (n === null) return fail(c, t, ERR.INTERNAL);
  if (c.serviceId !== null) return subscribeServiceNotifier(srv, c, t, q);
  if (n.serviceId !== null) await dissociateQueue(srv, "ntf", c, q);
  if (srv.subscribers.subscribe("ntf", n.notifierId, c)) srv.stats.ntfSub++;
  else srv.stats.ntfSubDuplicate++;
  reply(c, t, { tag: "SOK", serviceId: c.serviceId });
  await deliverPendingNtfs(srv, c, n.notifierId);
}

// ---- DEL, QUE ----

async function deleteQueue(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const r = await srv.store.queues.deleteQueue(q);
  if (r === "AUTH") return fail(c, t, ERR.AUTH);
  queueDeleted(srv, r.queue, c);
  reply(c, t, MSG_.OK);
}

/**
 * After a queue is deleted (DEL, or `delete` on the control port with actor null): its
 * subscribers get DELD and the counters move (Server.hs:updateDeletedStats).
 */
export function queueDeleted(srv: Env, q: QueueRec, actor: Client | null): void {
  const s = srv.stats;
  if (q.senderKey === null) s.qDeletedNew++;
  else s.qDeletedSecured++;
  s.qDeletedAll++;
  s.qCount--;
  srv.subscribers.end("rcv", q.recipientId, q.rcvServiceId, MSG_.DELD, actor);
  if (q.notifier !== null) endNotifier(srv, q.notifier, actor);
}

async function queueInfo(srv: Env, c: Client, t: ReceivedTransmission, q: QueueRec): Promise<void> {
  const sub = c.subs.get(idKey(q.recipientId));
  const head = await srv.store.messages.peekMsg(q);
  const info: QueueInfo = {
    qiSnd: q.senderKey !== null,
    qiNtf: q.notifier !== null,
    qiSub:
      sub === undefined
        ? null
        : {
            qSubThread: sub.kind === "prohibit" ? "prohibitSub" : "noSub",
            qDelivered: sub.delivered === null ? null : base64(sub.delivered.msgId),
          },
    qiSize: await srv.store.messages.queueSize(q),
    qiMsg: head === null ? null : { msgId: base64(head.msgId), msgTs: head.tsMs / 1000, msgType: head.quota ? "quota" : "message" },
  };
  reply(c, t, { tag: "INFO", info });
}
