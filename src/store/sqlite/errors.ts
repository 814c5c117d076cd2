/** Maps SQLite failures to `StoreError` kinds the server can act on. */
import { StoreError, type StoreErrorKind } from "../types.ts";

function kindOf(code: string): StoreErrorKind {
  if (code === "SQLITE_FULL") return "full";
  if (code.startsWith("SQLITE_READONLY") || code === "SQLITE_PERM" || code === "SQLITE_CANTOPEN") return "readonly";
  if (code.startsWith("SQLITE_IOERR")) return "io";
  if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") return "corrupt";
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return "busy";
  return "internal";
}

const MESSAGES: Record<StoreErrorKind, string> = {
  full: "store: disk full",
  readonly: "store: database is read-only",
  io: "store: I/O error",
  corrupt: "store: database file is damaged",
  busy: "store: database is locked by another process",
  schema: "store: schema error",
  internal: "store: internal error",
};

export function toStoreError(e: unknown, op: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "";
  const kind = code ? kindOf(code) : "internal";
  const detail = e instanceof Error ? e.message : String(e);
  return new StoreError(kind, `${MESSAGES[kind]} (${op}: ${code || detail})`, { cause: e });
}

/** A UNIQUE violation: an id already taken (the caller retries with fresh ids). */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
