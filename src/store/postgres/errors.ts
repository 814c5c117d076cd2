/** Maps PostgreSQL (and Bun SQL client) failures to `StoreError` kinds the server can act on. */
import { StoreError, type StoreErrorKind } from "../types.ts";

/** SQLSTATE classes (PostgreSQL Appendix A) and Bun's client error codes. */
function kindOf(sqlState: string, code: string): StoreErrorKind {
  if (sqlState === "53100") return "full"; // disk_full
  if (sqlState === "25006" || sqlState === "42501") return "readonly"; // read_only_sql_transaction, insufficient_privilege
  if (sqlState.startsWith("08") || sqlState.startsWith("57P") || sqlState.startsWith("53") || sqlState.startsWith("58")) return "io";
  if (sqlState === "XX001" || sqlState === "XX002") return "corrupt";
  if (sqlState === "40001" || sqlState === "40P01" || sqlState === "55P03") return "busy";
  // The client's own codes: the connection is gone or could not be made.
  if (code.includes("CONNECTION") || code.includes("SOCKET") || code.includes("TLS") || code.includes("TIMEOUT")) return "io";
  return "internal";
}

const MESSAGES: Record<StoreErrorKind, string> = {
  full: "store: PostgreSQL disk full",
  readonly: "store: PostgreSQL refuses writes",
  io: "store: PostgreSQL connection failed",
  corrupt: "store: PostgreSQL reports damaged data",
  busy: "store: PostgreSQL lock or serialization conflict",
  schema: "store: schema error",
  internal: "store: internal error",
};

export function toStoreError(e: unknown, op: string): StoreError {
  if (e instanceof StoreError) return e;
  const o = e as { errno?: unknown; code?: unknown } | null;
  const sqlState = typeof o?.errno === "string" ? o.errno : "";
  const code = typeof o?.code === "string" ? o.code : "";
  const kind = kindOf(sqlState, code);
  const detail = e instanceof Error ? e.message : String(e);
  return new StoreError(kind, `${MESSAGES[kind]} (${op}: ${sqlState || code || "?"} ${detail})`, { cause: e });
}

/** A libpq URI with its password replaced, for messages and logs. */
export function redactUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.password !== "") u.password = "***";
    for (const k of ["password", "sslpassword"]) if (u.searchParams.has(k)) u.searchParams.set(k, "***");
    return u.toString();
  } catch {
    return uri.replace(/(:\/\/[^:/@]*:)[^@]*@/, "$1***@").replace(/(password=)[^&\s]*/gi, "$1***");
  }
}
