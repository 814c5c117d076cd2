/**
 * What the names role runs with (Server/Names.hs:NamesConfig plus Server/Env/STM.hs:serverResolverConcurrency),
 * already validated by the CLI ([NAMES] in smp-server.toml, src/cli/config.ts).
 */

/** Server/Names/HttpResolver.hs:RpcAuth. */
export type ResolverAuth = { scheme: "bearer"; token: string } | { scheme: "basic"; user: string; password: string };

export interface NamesConfig {
  /** Absolute http(s) URL, validated by `validateResolverUrl`, without a trailing "/"; may carry a path prefix. */
  resolverEndpoint: string;
  resolverAuth?: ResolverAuth;
  /** Whole-request bound (reference: 100..60000, default 3000). */
  resolverTimeoutMs: number;
  /** Response body cap (reference: 1024..16000, default 16000). */
  resolverMaxResponseBytes: number;
  /** Resolutions in flight at once; further ones wait in a bounded queue (reference default 1000). */
  resolverConcurrency: number;
}

export const NAMES_DEFAULTS = {
  resolverTimeoutMs: 3000, // Server/Main.hs:readNamesConfig
  resolverMaxResponseBytes: 16000,
  resolverConcurrency: 1000, // Server/Env/STM.hs:defaultNameResolverConcurrency
} as const;

/** The Authorization header value (HttpResolver.hs:authHeader): Basic is standard padded base64 of "user:pass". */
export function authorizationHeader(auth: ResolverAuth): string {
  if (auth.scheme === "bearer") return `Bearer ${auth.token}`;
  return `Basic ${Buffer.from(`${auth.user}:${auth.password}`, "utf8").toString("base64")}`;
}

/** For logs: the secret part never appears (HttpResolver.hs: Show RpcAuth redacts the same way). */
export function describeResolverAuth(auth: ResolverAuth | undefined): string {
  if (auth === undefined) return "none";
  return auth.scheme === "bearer" ? "bearer <redacted>" : `basic ${auth.user}:<redacted>`;
}

export function describeNamesConfig(cfg: NamesConfig): string {
  return (
    `resolver ${cfg.resolverEndpoint}, auth ${describeResolverAuth(cfg.resolverAuth)}, ` +
    `timeout ${cfg.resolverTimeoutMs} ms, max response ${cfg.resolverMaxResponseBytes} bytes, concurrency ${cfg.resolverConcurrency}`
  );
}
