/**
 * QUE → `INFO` payload (QueueStore/QueueInfo.hs): aeson JSON with fields in declaration order and Nothing
 * fields omitted (`defaultJSON`). Ids are standard base64 text; timestamps ISO-8601 UTC.
 */
import { ParseError } from "../encoding/reader.ts";

export type QSubThread = "noSub" | "subPending" | "subThread" | "prohibitSub";
export type MsgType = "message" | "quota";

export interface QSub {
  readonly qSubThread: QSubThread;
  /** Standard base64 of the delivered message id, if any. */
  readonly qDelivered: string | null;
}

export interface MsgInfo {
  /** Standard base64 of the message id. */
  readonly msgId: string;
  /** Seconds since the epoch (fractions allowed, printed as aeson prints UTCTime). */
  readonly msgTs: number;
  readonly msgType: MsgType;
}

export interface QueueInfo {
  readonly qiSnd: boolean;
  readonly qiNtf: boolean;
  readonly qiSub: QSub | null;
  readonly qiSize: number;
  readonly qiMsg: MsgInfo | null;
}

/**
 * aeson UTCTime, and iso8601Show of a millisecond time (Prometheus.hs's header lines):
 * `YYYY-MM-DDTHH:MM:SS[.fff]Z`, fraction only when non-zero, trailing zeros dropped.
 */
export function utcTimeJson(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const iso = new Date(ms).toISOString(); // always .sss
  const frac = iso.slice(20, 23).replace(/0+$/, "");
  return iso.slice(0, 19) + (frac === "" ? "" : "." + frac) + "Z";
}

export function queueInfoJson(q: QueueInfo): string {
  let s = `{"qiSnd":${q.qiSnd},"qiNtf":${q.qiNtf}`;
  if (q.qiSub !== null) {
    s += `,"qiSub":{"qSubThread":${JSON.stringify(q.qiSub.qSubThread)}`;
    if (q.qiSub.qDelivered !== null) s += `,"qDelivered":${JSON.stringify(q.qiSub.qDelivered)}`;
    s += "}";
  }
  s += `,"qiSize":${q.qiSize}`;
  if (q.qiMsg !== null) {
    const m = q.qiMsg;
    s += `,"qiMsg":{"msgId":${JSON.stringify(m.msgId)},"msgTs":"${utcTimeJson(m.msgTs)}","msgType":${JSON.stringify(m.msgType)}}`;
  }
  return s + "}";
}

const SUB_THREADS: readonly string[] = ["noSub", "subPending", "subThread", "prohibitSub"];

function fail(why: string): never {
  throw new ParseError(`bad QueueInfo: ${why}`);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(what);
  return v as Record<string, unknown>;
}

/** Client side: decode the INFO JSON (absent or null optional fields = Nothing, as aeson does). */
export function parseQueueInfoJson(text: string): QueueInfo {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    fail("JSON");
  }
  const o = obj(j, "object");
  if (typeof o.qiSnd !== "boolean" || typeof o.qiNtf !== "boolean") fail("qiSnd/qiNtf");
  if (typeof o.qiSize !== "number" || !Number.isInteger(o.qiSize)) fail("qiSize");
  let qiSub: QSub | null = null;
  if (o.qiSub !== undefined && o.qiSub !== null) {
    const s = obj(o.qiSub, "qiSub");
    if (typeof s.qSubThread !== "string" || !SUB_THREADS.includes(s.qSubThread)) fail("qSubThread");
    const d = s.qDelivered;
    if (d !== undefined && d !== null && typeof d !== "string") fail("qDelivered");
    qiSub = { qSubThread: s.qSubThread as QSubThread, qDelivered: (d as string | undefined) ?? null };
  }
  let qiMsg: MsgInfo | null = null;
  if (o.qiMsg !== undefined && o.qiMsg !== null) {
    const m = obj(o.qiMsg, "qiMsg");
    if (typeof m.msgId !== "string") fail("msgId");
    if (m.msgType !== "message" && m.msgType !== "quota") fail("msgType");
    const ts = typeof m.msgTs === "string" ? Date.parse(m.msgTs) : NaN;
    if (Number.isNaN(ts)) fail("msgTs");
    qiMsg = { msgId: m.msgId, msgTs: ts / 1000, msgType: m.msgType };
  }
  return { qiSnd: o.qiSnd, qiNtf: o.qiNtf, qiSub, qiSize: o.qiSize as number, qiMsg };
}
