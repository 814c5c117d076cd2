/**
 * The reference's journal message store (`store_messages: journal`, MsgStore/Journal.hs), read
 * without changing a byte of it:
 * - a queue's directory is `<data>/messages/` + base64url(rId) cut into four 2-character
 *   segments and the rest (`msgQueueDirectory`, `pathParts` = 5, Server/Main.hs);
 * - `queue_state.<base64url rId>.log` holds appended `MsgQueueState` lines
 *   (`write=<jId>,<msgPos>,<msgCount>,<bytePos>,<byteCount> read=… canWrite=T|F size=<n>`,
 *   `StrEncoding MsgQueueState` / `JournalState`); the last line is the state, a torn last line
 *   falls back to the one before, and `<state>.bak` (a backup interrupted mid-way) takes
 *   precedence over the file (`readQueueState`);
 * - `messages.<jId>.log` holds one `StrEncoding Message` line per message; the undelivered ones
 *   are bytes [read.bytePos, read.byteCount) of the read journal, then [0, write.bytePos) of the
 *   write journal when it is another file (`getJournalQueueMessages`).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { base64url } from "../../encoding/base64.ts";
import { ImportError } from "./lines.ts";
import { parseMessage, type LogMessage } from "./message.ts";
import { Cursor, FormatError } from "./str.ts";

export const JOURNAL_DIR = "messages";
const PATH_PARTS = 5;

interface JournalState {
  readonly journalId: string;
  readonly msgPos: number;
  readonly msgCount: number;
  readonly bytePos: number;
  readonly byteCount: number;
}

export interface MsgQueueState {
  readonly write: JournalState;
  readonly read: JournalState;
  readonly canWrite: boolean;
  readonly size: number;
}

/** MsgStore/Journal.hs:`msgQueueDirectory`. */
export function journalQueueDir(root: string, rId: Uint8Array): string {
  const s = base64url(rId);
  const parts: string[] = [];
  let rest = s;
  for (let n = PATH_PARTS; n > 1 && rest !== ""; n--) {
    parts.push(rest.slice(0, 2));
    rest = rest.slice(2);
  }
  if (rest !== "") parts.push(rest);
  return join(root, ...parts);
}

export const statePath = (dir: string, rId: Uint8Array): string => join(dir, `queue_state.${base64url(rId)}.log`);
const journalPath = (dir: string, journalId: string): string => join(dir, `messages.${journalId}.log`);

function journalState(c: Cursor): JournalState {
  const start = c.pos;
  while (!c.atEnd() && c.s[c.pos] !== ",") c.pos++;
  const journalId = c.s.slice(start, c.pos);
  const n: number[] = [];
  for (let i = 0; i < 4; i++) {
    c.expect(",");
    const v = c.int("journal position");
    if (v < 0) c.fail("a non-negative journal position");
    n.push(v);
  }
  return { journalId, msgPos: n[0]!, msgCount: n[1]!, bytePos: n[2]!, byteCount: n[3]! };
}

/** Journal.hs:`StrEncoding MsgQueueState`. */
export function parseQueueState(line: string): MsgQueueState {
  const c = new Cursor(line);
  c.expect("write=");
  const write = journalState(c);
  c.expect(" read=");
  const read = journalState(c);
  c.expect(" canWrite=");
  const canWrite = c.bool();
  c.expect(" size=");
  const size = c.int("size");
  c.end();
  return { write, read, canWrite, size };
}

/** Journal.hs:`validQueueState`. */
function validQueueState(st: MsgQueueState): boolean {
  const { read: rs, write: ws, size } = st;
  const always = rs.msgPos <= rs.msgCount && rs.bytePos <= rs.byteCount && ws.msgPos === ws.msgCount && ws.bytePos === ws.byteCount;
  if (rs.journalId === ws.journalId)
    return always && rs.msgPos <= ws.msgPos && rs.msgCount === ws.msgCount && rs.bytePos <= ws.bytePos && rs.byteCount === ws.byteCount && size === rs.msgCount - rs.msgPos;
  return always && size === ws.msgCount + rs.msgCount - rs.msgPos;
}

/** Journal.hs:`readQueueState`, without its renames. Null: no state (no messages). */
export function readQueueState(path: string, warn: (s: string) => void): MsgQueueState | null {
  const file = existsSync(`${path}.bak`) ? `${path}.bak` : path;
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, "latin1").split("\n").filter((l) => l !== "");
  for (let i = lines.length - 1; i >= 0; i--) {
    let st: MsgQueueState;
    try {
      st = parseQueueState(lines[i]!);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      // Only a torn last line is the reference's own artefact; it then uses the line before.
      if (i === lines.length - 1) {
        warn(`${file}: torn last state line, using the previous one`);
        continue;
      }
      throw new ImportError(`corrupt queue state in ${file}, line ${i + 1}: ${e.message}`);
    }
    if (!validQueueState(st)) throw new ImportError(`inconsistent queue state in ${file}, line ${i + 1} (MsgStore/Journal.hs:validQueueState)`);
    return st;
  }
  return null;
}

function readRange(path: string, from: number, to: number): Buffer {
  if (!existsSync(path)) throw new ImportError(`missing journal file ${path} (its queue state lists undelivered messages in it)`);
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(to - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) throw new ImportError(`journal file ${path} is shorter than its queue state says (${from + got} < ${to} bytes)`);
      got += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

function parseRange(path: string, from: number, to: number, out: LogMessage[]): void {
  if (to <= from) return;
  const text = readRange(path, from, to).toString("latin1");
  let offset = from;
  for (const line of text.split("\n")) {
    if (line !== "") {
      const c = new Cursor(line);
      try {
        out.push(parseMessage(c));
        c.end();
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        throw new ImportError(`corrupt message in ${path} at byte ${offset}: ${e.message}`);
      }
    }
    offset += line.length + 1;
  }
}

/** Journal.hs:`getJournalQueueMessages`: the queue's undelivered messages, in order. */
export function readJournalQueue(root: string, rId: Uint8Array, warn: (s: string) => void): LogMessage[] {
  const dir = journalQueueDir(root, rId);
  const st = readQueueState(statePath(dir, rId), warn);
  if (st === null || st.size <= 0) return [];
  const out: LogMessage[] = [];
  parseRange(journalPath(dir, st.read.journalId), st.read.bytePos, st.read.byteCount, out);
  if (st.read.journalId !== st.write.journalId) parseRange(journalPath(dir, st.write.journalId), 0, st.write.bytePos, out);
  return out;
}

const STATE_FILE = /^queue_state\.([A-Za-z0-9_-]+=*)\.log$/;

/** Recipient ids of every queue that has a state file in the tree (to report journals without a queue). */
export function journalQueueIds(root: string): string[] {
  const ids: string[] = [];
  const walk = (dir: string, depth: number): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory() && depth < PATH_PARTS) walk(join(dir, e.name), depth + 1);
      else if (e.isFile()) {
        const m = STATE_FILE.exec(e.name);
        if (m !== null) ids.push(m[1]!);
      }
    }
  };
  if (existsSync(root)) walk(root, 0);
  return ids;
}
