/**
 * The [NAMES] values that need more than a type check: `resolver_auth` (Server/Main.hs:parseRpcAuth) and
 * `resolver_endpoint` (Server/Main.hs:validateUrl). Errors never echo the value: it may hold a secret.
 */
import type { ResolverAuth } from "./config.ts";
import { forbiddenHostReason } from "./host-guard.ts";

/** Server/Main.hs:parseRpcAuth — `bearer <token>` or `basic <user>:<pass>`, scheme case-insensitive. */
export function parseResolverAuth(t: string): ResolverAuth | string {
  const words = t.trim().split(/\s+/);
  if (words.length === 2) {
    const [scheme, value] = words as [string, string];
    if (scheme.toLowerCase() === "bearer") {
      // fetch() only sends Latin-1 header values; refusing here beats failing every request later.
      if (!/^[\x21-\x7e]+$/.test(value)) return "bearer token must be printable ASCII";
      return { scheme: "bearer", token: value };
    }
    if (scheme.toLowerCase() === "basic") {
      const colon = value.indexOf(":");
      if (colon > 0) return { scheme: "basic", user: value.slice(0, colon), password: value.slice(colon + 1) };
      return "basic auth expects user:password";
    }
  }
  return "expected `bearer <token>` or `basic <user>:<pass>`";
}

/** Hosts the reference treats as loopback for the cleartext-credentials rule (exact names, so 127.evil.com is not). */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]);

/** RFC 3986 characters; anything else (spaces, quotes, non-ASCII) makes the reference's parseAbsoluteURI fail. */
const URI_CHARS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]*$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/**
 * Server/Main.hs:validateUrl: an absolute http(s) URL with a non-empty host and no userinfo; http together with
 * resolver_auth only to a loopback host; trailing "/" removed, a path prefix kept. Stricter than 209f7826c (the
 * pre-merge audit rules, see host-guard.ts): no query (it would swallow the appended /resolve/<name>), no
 * fragment (parseAbsoluteURI already refuses one), port ≤ 65535, no metadata/link-local/obfuscated hosts.
 * Returns the endpoint to use, or the reason it is refused.
 */
export function validateResolverUrl(url: string, hasAuth: boolean): string | { error: string } {
  if (!URI_CHARS.test(url) || BAD_PERCENT.test(url)) return { error: "not an absolute URI (characters outside RFC 3986)" };
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(url);
  if (m === null) return { error: "not an absolute URI" };
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (rest.includes("#")) return { error: "fragment (#…) not allowed" };
  if (scheme !== "http" && scheme !== "https") return { error: "scheme must be http or https" };
  if (!rest.startsWith("//")) return { error: "missing host" };
  const afterSlashes = rest.slice(2);
  const authEnd = afterSlashes.search(/[/?]/);
  const authority = authEnd < 0 ? afterSlashes : afterSlashes.slice(0, authEnd);
  if (authority.includes("@")) return { error: "userinfo (user:pass@) not allowed; put credentials in resolver_auth" };
  const hp = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(authority);
  if (hp === null) return { error: "not an absolute URI (bad host or port)" };
  const rawHost = hp[1]!;
  if (rawHost === "") return { error: "empty host" };
  const port = hp[2] === undefined || hp[2] === "" ? undefined : Number(hp[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return { error: "port must be 1..65535" };
  if (rest.includes("?")) return { error: "query string not allowed (it would not compose with the appended /resolve/<name>)" };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { error: "not a valid URL" };
  }
  const guard = forbiddenHostReason(rawHost, parsed.hostname);
  if (guard !== undefined) return { error: guard };
  if (scheme === "http" && hasAuth && !LOOPBACK.has(parsed.hostname))
    return {
      error:
        "http with resolver_auth on a non-loopback host not allowed (the Authorization header would travel in cleartext); use https, or drop resolver_auth",
    };
  return url.replace(/\/+$/, "");
}
