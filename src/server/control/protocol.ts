/**
 * The control port's line protocol (Server/Control.hs:ControlProtocol, its StrEncoding parser) and
 * the Haskell `show` forms its replies print, so scripts written for the reference read the same
 * lines. Parse errors carry the reference parser's (attoparsec) message where it is known.
 */
import { fromBase64url } from "../../encoding/base64.ts";
import { utf8 } from "../../encoding/bytes.ts";
import { Reader } from "../../encoding/reader.ts";
import { parseBlockingInfo, type BlockingInfo } from "../../protocol/errors.ts";
import type { QueueMode } from "../../protocol/commands.ts";
import { utcTimeJson } from "../../protocol/queue-info.ts";
import type { QueueStatus } from "../../store/types.ts";

export type ControlCommand =
  | { readonly cmd: "auth"; readonly password: string }
  | { readonly cmd: "suspend" | "resume" | "clients" | "stats" | "stats-rts" | "threads" | "sockets" | "socket-threads" | "server-info" }
  | { readonly cmd: "save" | "help" | "quit" | "skip" }
  | { readonly cmd: "delete" | "status" | "unblock"; readonly queueId: Uint8Array }
  | { readonly cmd: "block"; readonly queueId: Uint8Array; readonly info: BlockingInfo };

const SIMPLE = new Set(["suspend", "resume", "clients", "stats", "stats-rts", "threads", "sockets", "socket-threads", "server-info", "save", "help", "quit"]);

/** What `error: …` says (Parsers.hs:parseAll = attoparsec parseOnly … <* endOfInput). */
export class ControlParseError extends Error {}

const fail = (msg: string): never => {
  throw new ControlParseError(msg);
};

/** Protocol.hs:basicAuth — printable ASCII without spaces, '@', ':' or '/'. */
function validPassword(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x40 || c === 0x3a || c === 0x2f) return false;
  }
  return true;
}

/** EntityId strP: base64url, padding optional (base64-bytestring's URL `decode`). */
function entityId(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(s)) return fail("Failed reading: invalid base64url");
  if (s.replace(/=+$/, "").length % 4 === 1) return fail("Failed reading: invalid base64url");
  return fromBase64url(s);
}

/** `_strP`: one space, then the rest of the argument up to the next space (or the end). */
function arg(rest: string, last: boolean): [string, string] {
  if (rest.length === 0 || rest[0] !== " ") return fail(rest.length === 0 ? "not enough input" : "Failed reading: space");
  const body = rest.slice(1);
  if (last) return [body, ""];
  const sp = body.indexOf(" ");
  return sp < 0 ? [body, ""] : [body.slice(0, sp), body.slice(sp)];
}

function end(rest: string): void {
  if (rest.length > 0) fail("endOfInput");
}

/** One line, without its line ending. Throws ControlParseError. */
export function parseControlLine(line: string): ControlCommand {
  const sp = line.indexOf(" ");
  const word = sp < 0 ? line : line.slice(0, sp);
  const rest = sp < 0 ? "" : line.slice(sp);
  if (word === "") {
    end(rest);
    return { cmd: "skip" };
  }
  if (SIMPLE.has(word)) {
    end(rest);
    return { cmd: word } as ControlCommand;
  }
  switch (word) {
    case "auth": {
      const [pw, r] = arg(rest, false);
      // BasicAuth strP takes up to '@'; what follows must be the end of the line.
      const at = pw.indexOf("@");
      const password = at < 0 ? pw : pw.slice(0, at);
      if (password.length === 0) fail("Failed reading: takeWhile1");
      if (!validPassword(password)) fail("Failed reading: invalid character in BasicAuth");
      end(at < 0 ? r : pw.slice(at) + r);
      return { cmd: "auth", password };
    }
    case "delete":
    case "status":
    case "unblock": {
      const [id, r] = arg(rest, false);
      end(r);
      return { cmd: word, queueId: entityId(id) };
    }
    case "block": {
      const [id, r] = arg(rest, false);
      const [infoText] = arg(r, true);
      const queueId = entityId(id);
      return { cmd: "block", queueId, info: blockingInfo(infoText) };
    }
  }
  return fail("Failed reading: bad ControlProtocol command");
}

function blockingInfo(s: string): BlockingInfo {
  const bytes = utf8(s);
  const r = new Reader(bytes);
  let info: BlockingInfo;
  try {
    info = parseBlockingInfo(r);
  } catch (e) {
    return fail(`Failed reading: ${(e as Error).message}`);
  }
  if (r.pos !== bytes.length) fail("endOfInput");
  return info;
}

// ---- Haskell `show` of the values the replies print ----

export function showBlockingInfo(b: BlockingInfo): string {
  const notice = b.notice === null ? "Nothing" : `Just (ClientNotice {ttl = ${b.notice.ttl === null ? "Nothing" : `Just ${showInt(b.notice.ttl)}`}})`;
  return `BlockingInfo {reason = ${b.reason === "spam" ? "BRSpam" : "BRContent"}, notice = ${notice}}`;
}

const showInt = (n: number) => (n < 0 ? `(${n})` : String(n));

/** QueueStore.hs:ServerEntityStatus. */
export function showStatus(status: QueueStatus, info: BlockingInfo | null): string {
  if (status === "active") return "EntityActive";
  if (status === "off") return "EntityOff";
  return `EntityBlocked (${showBlockingInfo(info ?? { reason: "spam", notice: null })})`;
}

/** `Maybe SystemDate`. */
export function showUpdatedAt(date: number | null): string {
  return date === null ? "Nothing" : `Just (RoundedSystemTime {roundedSeconds = ${date}})`;
}

/** `Maybe QueueMode`. */
export function showQueueMode(m: QueueMode | null): string {
  return m === null ? "Nothing" : m === "M" ? "Just QMMessaging" : "Just QMContact";
}

/** `show UTCTime`: "2026-12-06 08:13:33.123 UTC" — aeson's form (utcTimeJson) with a space and " UTC". */
export function showUTCTime(ms: number): string {
  const j = utcTimeJson(ms / 1000);
  return `${j.slice(0, 10)} ${j.slice(11, -1)} UTC`;
}
