/**
 * The names role (Server/Names.hs:resolveName, Server.hs:rslvNamesEnv/resolveNameMsg): RSLV's canonical name →
 * RNAME with the re-encoded record, or ERR NAME …. One HTTP request per RSLV, no cache (tests/SMPNamesTests.hs).
 */
import type { ErrorType, NameErrorType } from "../../protocol/errors.ts";
import { ERR } from "../../protocol/errors.ts";
import { log } from "../../util/log.ts";
import { describeNamesConfig, type NamesConfig } from "./config.ts";
import { HttpResolver, type ResolverError } from "./http-resolver.ts";
import { ConcurrencyLimiter } from "./limiter.ts";
import { encodeNameRecord } from "./record.ts";
import { NamesStats } from "./stats.ts";

export type NamesReply = { readonly tag: "RNAME"; readonly json: Uint8Array } | { readonly tag: "ERR"; readonly err: ErrorType };

export interface NamesService {
  readonly config: NamesConfig;
  readonly stats: NamesStats;
  /** Never rejects; answers within about the timeout once started (queued ones may wait for a slot first). */
  resolve(canonicalName: string): Promise<NamesReply>;
  /** Aborts requests in flight and answers queued ones with ERR NAME RESOLVER. */
  close(): void;
  /** False while the resolver cannot be reached: RSLV answers ERR NAME RESOLVER, nothing else is affected. */
  readonly reachable: boolean;
}

export interface NamesServiceOptions {
  /** Shared with the server's other counters; a fresh one otherwise. */
  stats?: NamesStats;
  /** Resolutions that may wait for a slot; more are answered ERR NAME RESOLVER "resolver busy" (default 10 × concurrency). */
  maxQueued?: number;
  /**
   * GET /health at start. "fail-on-transport" (default) throws when the resolver cannot be reached at all and only
   * warns about an HTTP error status or a timeout; "warn" never throws (the reference, Server/Env/STM.hs:newEnv);
   * "skip" does not probe.
   */
  healthCheck?: "fail-on-transport" | "warn" | "skip";
}

export class NamesStartupError extends Error {
  override name = "NamesStartupError";
}

function resolverErr(detail: string): ErrorType {
  return Object.freeze({ type: "NAME", err: Object.freeze({ type: "RESOLVER", err: detail }) }) as ErrorType;
}

const ERR_TIMEOUT = resolverErr("timeout");
const ERR_BUSY = resolverErr("resolver busy");
const ERR_INTERNAL = resolverErr("resolver error");

/** Names.hs:mapResolverError (+ "timeout" from resolveName's System.Timeout). */
export function nameError(e: ResolverError): NameErrorType {
  switch (e.kind) {
    case "status":
      return e.status === 404 || e.status === 400 ? { type: "NOT_FOUND" } : { type: "RESOLVER", err: `HTTP ${e.status}` };
    case "transport":
      return { type: "RESOLVER", err: "transport failure" };
    case "too-large":
      return { type: "RESOLVER", err: "response too large" };
    case "invalid-json":
      return { type: "RESOLVER", err: "invalid response" };
    case "timeout":
      return { type: "RESOLVER", err: "timeout" };
    case "internal":
      return { type: "RESOLVER", err: "resolver error" };
  }
}

function describeError(e: ResolverError): string {
  switch (e.kind) {
    case "status":
      return `HTTP ${e.status}`;
    case "transport":
      return `transport failure (${e.detail})`;
    case "too-large":
      return "response too large";
    case "invalid-json":
      return `invalid response (${e.detail})`;
    case "timeout":
      return "timeout";
    case "internal":
      return `error (${e.detail})`;
  }
}

/** RSLV when no [NAMES] resolver is configured (Server.hs: namesEnv = Nothing): counted, answered at once. */
export function noResolverReply(stats: NamesStats): NamesReply {
  stats.reqs++;
  stats.disabled++;
  return { tag: "ERR", err: ERR.NAME_NO_RESOLVER };
}

class HttpNamesService implements NamesService {
  readonly resolver: HttpResolver;
  readonly limiter: ConcurrencyLimiter;
  reachable = true;

  constructor(
    readonly config: NamesConfig,
    readonly stats: NamesStats,
    maxQueued: number,
  ) {
    this.resolver = new HttpResolver(config);
    this.limiter = new ConcurrencyLimiter(config.resolverConcurrency, maxQueued, config.resolverTimeoutMs);
  }

  async resolve(canonicalName: string): Promise<NamesReply> {
    const s = this.stats;
    s.reqs++;
    let reply: NamesReply;
    try {
      reply = await this.run(canonicalName);
    } catch (e) {
      // Our own bug, not the resolver's: Names.hs logs it and answers "resolver error".
      log.error(`[NAMES] resolution failed: ${(e as Error)?.message ?? String(e)}`);
      reply = { tag: "ERR", err: ERR_INTERNAL };
    }
    if (reply.tag === "RNAME") s.succ++;
    else if (reply.err.type === "NAME" && reply.err.err.type === "NOT_FOUND") s.notFound++;
    else s.resolverErrs++;
    return reply;
  }

  private async run(canonicalName: string): Promise<NamesReply> {
    const admission = await this.limiter.acquire();
    if (admission === "busy") return { tag: "ERR", err: ERR_BUSY };
    if (admission === "expired") return { tag: "ERR", err: ERR_TIMEOUT };
    if (admission === "closed") return { tag: "ERR", err: ERR_INTERNAL };
    try {
      const r = await this.resolver.resolve(canonicalName);
      this.setReachable(r.ok || r.error.kind !== "transport");
      if (r.ok) return { tag: "RNAME", json: encodeNameRecord(r.value) };
      const err = nameError(r.error);
      if (err.type === "NOT_FOUND") return { tag: "ERR", err: ERR.NAME_NOT_FOUND };
      if (r.error.kind === "invalid-json") log.debug(`[NAMES] resolver sent an invalid record: ${r.error.detail}`);
      return { tag: "ERR", err: { type: "NAME", err } };
    } finally {
      this.limiter.release();
    }
  }

  close(): void {
    this.limiter.close();
    this.resolver.close();
  }

  /** Logged on change only: a resolver that stays down does not flood the log. */
  setReachable(up: boolean): void {
    if (up === this.reachable) return;
    this.reachable = up;
    this.stats.resolverDown = up ? 0 : 1;
    if (up) log.note("[NAMES] the resolver is reachable again: RSLV is served");
    else log.warn("[NAMES] the resolver cannot be reached: RSLV answers ERR NAME RESOLVER until it is back (messaging is not affected)");
  }
}

/**
 * Builds the names role for a validated [NAMES] config and probes GET /health (see `healthCheck`).
 * Throws NamesStartupError when the probe is required and the resolver is unreachable.
 */
export async function createNamesService(config: NamesConfig, options: NamesServiceOptions = {}): Promise<NamesService> {
  const stats = options.stats ?? new NamesStats();
  const maxQueued = options.maxQueued ?? config.resolverConcurrency * 10;
  const service = new HttpNamesService(config, stats, maxQueued);
  log.info(`[NAMES] names role enabled: ${describeNamesConfig(config)}`);
  const mode = options.healthCheck ?? "fail-on-transport";
  if (mode === "skip") return service;
  const h = await service.resolver.health();
  if (h.ok) {
    log.info("[NAMES] resolver health check ok");
    return service;
  }
  const what = `[NAMES] resolver health check (GET ${config.resolverEndpoint}/health) failed: ${describeError(h.error)}`;
  if (h.error.kind === "transport") {
    service.reachable = false;
    stats.resolverDown = 1;
  }
  if (mode === "fail-on-transport" && h.error.kind === "transport") {
    service.close();
    throw new NamesStartupError(`${what}; check [NAMES] resolver_endpoint and that the resolver is running`);
  }
  log.warn(`${what}; RSLV will answer ERR NAME until the resolver is reachable`);
  return service;
}
