/**
 * `smp-server-store.log` records (Server/StoreLog.hs:`StoreLogRecord`, its `StrEncoding`, and
 * QueueStore.hs / StoreLog.hs `StrEncoding QueueRec`, `NtfCreds`, `ServiceRec`,
 * `ServerEntityStatus`; Protocol.hs `StrEncoding BlockingInfo`). Parsing accepts every form the
 * reference parser accepts, including the legacy ` sndSecure=T|F` in place of ` queue_mode=`.
 * Encoding writes what the reference writes (used by `export`).
 */
import { utf8 } from "../../encoding/bytes.ts";
import { Reader } from "../../encoding/reader.ts";
import { parseBlockingInfo } from "../../protocol/errors.ts";
import type { QueueMode } from "../../protocol/commands.ts";
import type { ServiceRole } from "../../protocol/credentials.ts";
import type { NewQueue, NtfCreds, QueueStatus, ServiceRec } from "../../store/types.ts";
import { b64, b64List, Cursor, FormatError } from "./str.ts";

export type StoreLogRecord =
  | { readonly tag: "CREATE"; readonly queue: NewQueue }
  | { readonly tag: "LINK"; readonly rId: Uint8Array; readonly linkId: Uint8Array; readonly fixed: Uint8Array; readonly user: Uint8Array }
  | { readonly tag: "SECURE"; readonly rId: Uint8Array; readonly key: Uint8Array }
  | { readonly tag: "KEYS"; readonly rId: Uint8Array; readonly keys: Uint8Array[] }
  | { readonly tag: "NOTIFIER"; readonly rId: Uint8Array; readonly creds: NtfCreds }
  | { readonly tag: "BLOCK"; readonly rId: Uint8Array; readonly info: Uint8Array }
  | { readonly tag: "TIME"; readonly rId: Uint8Array; readonly date: number }
  | { readonly tag: "LDELETE" | "SUSPEND" | "UNBLOCK" | "DELETE" | "NDELETE"; readonly rId: Uint8Array }
  | { readonly tag: "NEW_SERVICE"; readonly service: ServiceRec }
  | { readonly tag: "QUEUE_SERVICE"; readonly rId: Uint8Array; readonly party: "R" | "N"; readonly serviceId: Uint8Array | null };

/**
 * Protocol.hs:`StrEncoding BlockingInfo`: `reason=spam|content[,notice=<JSON>]`, the notice
 * running to the end of the input (`A.takeByteString`). Kept as its bytes: the store holds
 * BlockingInfo in exactly this encoding.
 */
function blockingInfo(text: string): Uint8Array {
  const bytes = utf8(text);
  try {
    parseBlockingInfo(new Reader(bytes));
  } catch {
    throw new FormatError(`expected BlockingInfo (reason=spam|content[,notice=JSON]), got ${JSON.stringify(text.slice(0, 60))}`);
  }
  return bytes;
}

/** QueueStore.hs:`StrEncoding NtfCreds`: `<nId> <nKey> <rcvNtfDhSecret>[ nsrv=<serviceId>]`. */
function ntfCreds(c: Cursor): NtfCreds {
  const notifierId = c.bytes("notifier id");
  c.expect(" ");
  const notifierKey = c.key("notifier key");
  c.expect(" ");
  const rcvNtfDhSecret = c.fixed(32, "notifier DH secret");
  const serviceId = c.lit(" nsrv=") ? c.bytes("service id") : null;
  return { notifierId, notifierKey, rcvNtfDhSecret, serviceId };
}

/**
 * The status and what may follow it: ` rsrv=` after a blocking notice is ambiguous in the
 * reference (its notice parser takes the rest of the line, so it cannot read that combination
 * back); here the notice is the JSON before a trailing ` rsrv=<id>`.
 */
function statusAndService(c: Cursor): { status: QueueStatus; blockingInfo: Uint8Array | null; rcvServiceId: Uint8Array | null } {
  let status: QueueStatus = "active";
  if (c.lit(" status=")) {
    if (c.lit("active")) status = "active";
    else if (c.lit("off")) status = "off";
    else if (c.lit("blocked,")) {
      const rest = c.rest();
      const m = / rsrv=([A-Za-z0-9_-]+=*)$/.exec(rest);
      const info = blockingInfo(m === null ? rest : rest.slice(0, m.index));
      return { status: "blocked", blockingInfo: info, rcvServiceId: m === null ? null : new Cursor(m[1]!).bytes("service id") };
    } else c.fail("status active, off or blocked,…");
  }
  const rcvServiceId = c.lit(" rsrv=") ? c.bytes("service id") : null;
  return { status, blockingInfo: null, rcvServiceId };
}

/** StoreLog.hs:`StrEncoding QueueRec` (`strP`), after `CREATE rid=<rId> `. */
function queueRec(c: Cursor, recipientId: Uint8Array): NewQueue {
  c.expect("rk=");
  const recipientKeys = c.keys("recipient keys");
  c.expect(" rdh=");
  const rcvDhSecret = c.fixed(32, "recipient DH secret");
  c.expect(" sid=");
  const senderId = c.bytes("sender id");
  c.expect(" sk=");
  // `Maybe` encodes Nothing as nothing: `sk=` directly followed by a space or the end.
  const senderKey = c.atEnd() || c.s[c.pos] === " " ? null : c.key("sender key");
  let queueMode: QueueMode | null = null;
  if (c.lit(" sndSecure=")) queueMode = c.bool() ? "M" : "C";
  else if (c.lit(" queue_mode=")) queueMode = c.char(["M", "C"] as const, "queue mode M or C");
  let link: NewQueue["link"] = null;
  if (c.lit(" link_id=")) {
    const linkId = c.bytes("link id");
    c.expect(" queue_data=");
    const fixed = c.bytes("link fixed data");
    c.expect(" ");
    const user = c.bytes("link user data");
    link = { linkId, fixed, user };
  }
  const notifier = c.lit(" notifier=") ? ntfCreds(c) : null;
  const updatedAt = c.lit(" updated_at=") ? c.int("updated_at date") : null;
  const { status, blockingInfo: info, rcvServiceId } = statusAndService(c);
  c.end();
  return { recipientId, recipientKeys, rcvDhSecret, senderId, senderKey, queueMode, link, notifier, status, blockingInfo: info, updatedAt, rcvServiceId };
}

/** QueueStore.hs:`StrEncoding ServiceRec`. */
function serviceRec(c: Cursor): ServiceRec {
  c.expect("service_id=");
  const serviceId = c.bytes("service id");
  c.expect(" role=");
  const role = c.char(["M", "N", "P"] as const, "service role M, N or P") as ServiceRole;
  c.expect(" cert=");
  const certChain = c.certChain();
  c.expect(" cert_hash=");
  const certHash = c.bytes("certificate hash");
  c.expect(" created_at=");
  const createdAt = c.int("created_at date");
  c.end();
  return { serviceId, role, certChain, certHash, createdAt };
}

const SIMPLE = new Set(["LDELETE", "SUSPEND", "UNBLOCK", "DELETE", "NDELETE"]);

/** StoreLog.hs:`StrEncoding StoreLogRecord` (`strP`). Throws `FormatError`. */
export function parseStoreLogRecord(line: string): StoreLogRecord {
  const sp = line.indexOf(" ");
  const tag = sp < 0 ? line : line.slice(0, sp);
  const c = new Cursor(line);
  c.pos = tag.length;
  c.expect(" ");
  if (tag === "CREATE") {
    c.expect("rid=");
    const rId = c.bytes("recipient id");
    c.expect(" ");
    return { tag, queue: queueRec(c, rId) };
  }
  if (tag === "NEW_SERVICE") return { tag, service: serviceRec(c) };
  const rId = c.bytes("recipient id");
  let rec: StoreLogRecord;
  if (SIMPLE.has(tag)) rec = { tag: tag as "LDELETE", rId };
  else {
    c.expect(" ");
    switch (tag) {
      case "LINK": {
        const linkId = c.bytes("link id");
        c.expect(" ");
        const fixed = c.bytes("link fixed data");
        c.expect(" ");
        rec = { tag, rId, linkId, fixed, user: c.bytes("link user data") };
        break;
      }
      case "SECURE":
        rec = { tag, rId, key: c.key("sender key") };
        break;
      case "KEYS":
        rec = { tag, rId, keys: c.keys("recipient keys") };
        break;
      case "NOTIFIER":
        rec = { tag, rId, creds: ntfCreds(c) };
        break;
      case "BLOCK":
        return { tag, rId, info: blockingInfo(c.rest()) };
      case "TIME":
        rec = { tag, rId, date: c.int("date") };
        break;
      case "QUEUE_SERVICE": {
        const party = c.char(["R", "N"] as const, "party R or N");
        c.expect(" ");
        rec = { tag, rId, party, serviceId: c.atEnd() ? null : c.bytes("service id") };
        break;
      }
      default:
        throw new FormatError(`unknown record ${JSON.stringify(tag.slice(0, 20))}`);
    }
  }
  c.end();
  return rec;
}

const statusText = (q: NewQueue): string =>
  q.status === "active" ? "" : q.status === "off" ? " status=off" : ` status=blocked,${Buffer.from(q.blockingInfo ?? utf8("reason=spam")).toString("utf8")}`;

/** StoreLog.hs:`strEncode (CreateQueue rId q)` — what `writeQueueStore` writes per live queue. */
export function encodeCreate(q: NewQueue): string {
  const n = q.notifier;
  return (
    `CREATE rid=${b64(q.recipientId)} rk=${b64List(q.recipientKeys)} rdh=${b64(q.rcvDhSecret)} sid=${b64(q.senderId)}` +
    ` sk=${q.senderKey === null ? "" : b64(q.senderKey)}` +
    (q.queueMode === null ? "" : ` queue_mode=${q.queueMode}`) +
    (q.link === null ? "" : ` link_id=${b64(q.link.linkId)} queue_data=${b64(q.link.fixed)} ${b64(q.link.user)}`) +
    (n === null ? "" : ` notifier=${b64(n.notifierId)} ${b64(n.notifierKey)} ${b64(n.rcvNtfDhSecret)}${n.serviceId === null ? "" : ` nsrv=${b64(n.serviceId)}`}`) +
    (q.updatedAt === null ? "" : ` updated_at=${q.updatedAt}`) +
    statusText(q) +
    (q.rcvServiceId === null ? "" : ` rsrv=${b64(q.rcvServiceId)}`)
  );
}

/**
 * The lines that recreate a queue in the reference. One `CREATE`, except for a blocked queue with
 * a notice and a recipient service: the reference's parser cannot read ` rsrv=` after a notice
 * (see statusAndService), so the association follows as its own `QUEUE_SERVICE … R` record.
 */
export function encodeQueue(q: NewQueue): string[] {
  const notice = q.status === "blocked" && q.blockingInfo !== null && Buffer.from(q.blockingInfo).includes(",notice=");
  if (!notice || q.rcvServiceId === null) return [encodeCreate(q)];
  return [encodeCreate({ ...q, rcvServiceId: null }), `QUEUE_SERVICE ${b64(q.recipientId)} R ${b64(q.rcvServiceId)}`];
}

/** StoreLog.hs:`strEncode (NewService sr)`. */
export function encodeNewService(s: ServiceRec): string {
  return `NEW_SERVICE service_id=${b64(s.serviceId)} role=${s.role} cert=${b64List(s.certChain)} cert_hash=${b64(s.certHash)} created_at=${s.createdAt}`;
}
