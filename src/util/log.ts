/**
 * Leveled logger writing timestamped lines to stderr (the reference logs to stderr too:
 * apps/smp-server/Main.hs `lc_stderr = True`). A leaf module with no imports so every layer may use
 * it; the CLI sets the level from `--log-level` once at start.
 *
 * Privacy rule for callers: never pass client IPs, queue/entity ids, keys or message content —
 * the server must not be able to produce a log that links queues or users.
 */

export const LOG_LEVELS = ["trace", "debug", "info", "note", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, note: 3, warn: 4, error: 5 };
const LABEL: Record<LogLevel, string> = { trace: "TRACE", debug: "DEBUG", info: "INFO", note: "NOTE", warn: "WARN", error: "ERROR" };

let threshold = RANK.info;
let tag = "";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function setLogLevel(level: LogLevel): void {
  threshold = RANK[level];
}

/** Prefixes every message (e.g. "[relay-2] "): the nodes of one server share its output. */
export function setLogTag(next: string): void {
  tag = next;
}

/** Lets callers skip building an expensive message that would be dropped. */
export function logEnabled(level: LogLevel): boolean {
  return RANK[level] >= threshold;
}

/** Redirects output (tests); returns the previous sink. */
export function setLogSink(next: (line: string) => void): (line: string) => void {
  const prev = sink;
  sink = next;
  return prev;
}

function write(level: LogLevel, message: string): void {
  if (RANK[level] < threshold) return;
  sink(`${new Date().toISOString()} [${LABEL[level]}] ${tag}${message}`);
}

export const log = {
  trace: (message: string): void => write("trace", message),
  debug: (message: string): void => write("debug", message),
  info: (message: string): void => write("info", message),
  note: (message: string): void => write("note", message),
  warn: (message: string): void => write("warn", message),
  error: (message: string): void => write("error", message),
};
