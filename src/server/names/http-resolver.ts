/**
 * HTTP transport to the operator's resolver (Server/Names/HttpResolver.hs):
 *   GET <endpoint>/resolve/<percent-encoded name>  → 2xx/3xx NameRecord JSON; 404/400 unknown; other ≥ 400 error
 *   GET <endpoint>/health                           → reachable when status < 400 (body not decoded)
 * Boundaries: redirects are never followed (a compromised resolver must not bounce the Authorization header
 * elsewhere), the body is read only up to the cap + 1 byte, the whole exchange is bounded by the timeout.
 */
import { authorizationHeader, type NamesConfig } from "./config.ts";
import { decodeNameRecord, type NameRecord } from "./record.ts";

/** HttpResolver.hs:ResolverError plus Names.hs's timeout and "other exception". */
export type ResolverError =
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "transport"; readonly detail: string }
  | { readonly kind: "too-large" }
  | { readonly kind: "invalid-json"; readonly detail: string }
  | { readonly kind: "timeout" }
  | { readonly kind: "internal"; readonly detail: string };

export type ResolverResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ResolverError };

const TIMEOUT: ResolverError = Object.freeze({ kind: "timeout" });
const TOO_LARGE: ResolverError = Object.freeze({ kind: "too-large" });

/** http-types urlEncode True: RFC 3986 unreserved bytes kept, every other UTF-8 byte as upper-case %XX. */
export function percentEncode(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    const unreserved =
      (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Why fetch failed, without the URL or headers (they may carry the path prefix or credentials). */
function transportDetail(e: unknown): string {
  if (typeof e === "object" && e !== null) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const name = (e as { name?: unknown }).name;
    if (typeof name === "string") return name;
  }
  return "error";
}

export class HttpResolver {
  private readonly headers: Record<string, string>;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly cfg: NamesConfig) {
    this.headers = { accept: "application/json" };
    if (cfg.resolverAuth !== undefined) this.headers.authorization = authorizationHeader(cfg.resolverAuth);
  }

  async resolve(canonicalName: string): Promise<ResolverResult<NameRecord>> {
    const r = await this.get("/resolve/" + percentEncode(canonicalName));
    if (!r.ok) return r;
    const rec = decodeNameRecord(r.value);
    return "error" in rec ? { ok: false, error: { kind: "invalid-json", detail: rec.error } } : { ok: true, value: rec };
  }

  async health(): Promise<ResolverResult<void>> {
    const r = await this.get("/health");
    return r.ok ? { ok: true, value: undefined } : r;
  }

  /** Aborts requests in flight; later calls fail at once. */
  close(): void {
    this.closed = true;
    for (const ac of this.inFlight) ac.abort();
    this.inFlight.clear();
  }

  /** Never rejects. The timer covers connect, headers and body (Names.hs wraps the whole fetch in `timeout`). */
  private async get(path: string): Promise<ResolverResult<Uint8Array>> {
    if (this.closed) return { ok: false, error: { kind: "transport", detail: "closed" } };
    const ac = new AbortController();
    this.inFlight.add(ac);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<ResolverResult<Uint8Array>>((resolve) => {
      timer = setTimeout(() => {
        resolve({ ok: false, error: TIMEOUT });
        ac.abort();
      }, this.cfg.resolverTimeoutMs);
    });
    try {
      return await Promise.race([this.exchange(this.cfg.resolverEndpoint + path, ac.signal), timedOut]);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(ac);
    }
  }

  private async exchange(url: string, signal: AbortSignal): Promise<ResolverResult<Uint8Array>> {
    let res: Response;
    try {
      res = await fetch(url, { method: "GET", headers: this.headers, redirect: "manual", signal });
    } catch (e) {
      return { ok: false, error: { kind: "transport", detail: transportDetail(e) } };
    }
    try {
      if (res.status >= 400) {
        void res.body?.cancel().catch(() => {});
        return { ok: false, error: { kind: "status", status: res.status } };
      }
      return await this.readCapped(res);
    } catch (e) {
      return { ok: false, error: { kind: "transport", detail: transportDetail(e) } };
    }
  }

  /** brReadSome (max + 1): more than max bytes means too large, however long the body really is. */
  private async readCapped(res: Response): Promise<ResolverResult<Uint8Array>> {
    const max = this.cfg.resolverMaxResponseBytes;
    if (res.body === null) return { ok: true, value: new Uint8Array(0) };
    const reader = res.body.getReader();
    const buf = new Uint8Array(max + 1);
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.length > max) {
        void reader.cancel().catch(() => {});
        return { ok: false, error: TOO_LARGE };
      }
      buf.set(value, n);
      n += value.length;
    }
    return { ok: true, value: buf.subarray(0, n) };
  }
}
