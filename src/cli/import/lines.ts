/**
 * Reads a reference log file line by line, synchronously and in bounded memory.
 *
 * Synchronous on purpose: the import writes everything it reads into one store transaction,
 * which the store commits at the end of an event-loop turn; never yielding to the loop keeps
 * the whole import in that one transaction, so a failure leaves the database untouched.
 *
 * A line that does not parse is fatal, naming file and line, except the last line of a file:
 * a crash of the reference while appending leaves exactly that (StoreLog.hs:`foldLogLines`
 * passes `eof` to the reader so that Server.hs:`importMessages` can skip it under
 * `--skip-warnings`). Then it is reported and skipped, as the reference does.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { FormatError } from "./str.ts";

export class ImportError extends Error {
  override name = "ImportError";
}

export interface LineOptions {
  /** Skip (and report) an unparseable last line instead of stopping. */
  readonly skipWarnings: boolean;
  readonly warn: (line: string) => void;
}

const CHUNK = 1 << 20;

/** Yields each non-empty line (without "\n") with its 1-based number and whether it is the last. */
export function* fileLines(path: string): Generator<{ text: string; no: number; last: boolean }> {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    let carry: Buffer[] = [];
    let no = 0;
    let pending: { text: string; no: number } | null = null;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0 || nl >= n) break;
        const piece = buf.subarray(start, nl);
        const text = carry.length === 0 ? piece.toString("utf8") : Buffer.concat([...carry, piece]).toString("utf8");
        carry = [];
        no++;
        // A blank line carries nothing; it is neither data nor damage.
        if (text !== "") {
          if (pending !== null) yield { ...pending, last: false };
          pending = { text, no };
        }
        start = nl + 1;
      }
      if (start < n) carry.push(Buffer.from(buf.subarray(start, n)));
    }
    if (carry.length > 0) {
      no++;
      if (pending !== null) yield { ...pending, last: false };
      pending = { text: Buffer.concat(carry).toString("utf8"), no };
    }
    if (pending !== null) yield { ...pending, last: true };
  } finally {
    closeSync(fd);
  }
}

/**
 * Parses each line of `path` with `parse`. A `FormatError` on the last line is skipped under
 * `skipWarnings` (reported through `opts.warn` and `onSkip`); anywhere else it stops the import.
 */
export function* records<T>(
  path: string,
  parse: (line: string) => T,
  opts: LineOptions,
  onSkip: () => void,
): Generator<{ rec: T; no: number }> {
  for (const { text, no, last } of fileLines(path)) {
    let rec: T;
    try {
      rec = parse(text);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      const where = `${path}, line ${no}: ${e.message}`;
      if (!last) throw new ImportError(`corrupt record in ${where}`);
      if (!opts.skipWarnings)
        throw new ImportError(
          `corrupt last record in ${where} (an interrupted write of the reference server); run again with --skip-warnings to skip it`,
        );
      opts.warn(`skipped the corrupt last record in ${where}`);
      onSkip();
      continue;
    }
    yield { rec, no };
  }
}
