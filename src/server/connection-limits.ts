/**
 * What keeps hostile or broken peers from taking the server's connections, file descriptors or
 * CPU (ours; the reference bounds none of these): the connection bound derived from the file
 * descriptor limit, a pause in accepting while descriptors are exhausted anyway, the log of
 * refused connections, and the timeout of a block that has begun but stalled.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Refusal } from "../transport/admission.ts";
import type { BlockTransport } from "../transport/block.ts";
import type { TlsServer } from "../transport/tls/index.ts";
import { log } from "../util/log.ts";
import type { SmpServer } from "./server.ts";

/** The soft RLIMIT_NOFILE (`ulimit -n`), or Infinity where /proc does not tell. */
export function fileDescriptorLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m === null || m[1] === "unlimited" ? Infinity : Number(m[1]);
  } catch {
    return Infinity;
  }
}

/**
 * Connections the process can hold beside its other descriptors (runtime, database, outgoing
 * proxy and resolver connections) and those the optional listeners can hold at their own bounds
 * (`reserved`: metrics endpoint, control port, web ports): every accepted socket counts, so
 * accept() never meets EMFILE on account of client connections, whoever's they are.
 */
export function connectionBound(maxConnections: number, fdLimit: number, reserved = 0): number {
  if (!Number.isFinite(fdLimit)) return maxConnections;
  return Math.max(1, Math.min(maxConnections, fdLimit - 64 - Math.floor(fdLimit / 8) - reserved));
}

const REFUSAL_LOG_INTERVAL_MS = 60_000;

/**
 * Counts refused connections and says so: the first at once, then one summary line a minute while
 * refusals go on. No address is logged.
 */
export class RefusalLog {
  private readonly since = { "max-connections": 0, "per-address": 0 };
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly srv: SmpServer,
    private readonly limits: { maxConnections: number; maxPerAddress: number },
  ) {}

  refused(why: Refusal): void {
    // The operator asked for it (control port `suspend`): nothing to warn about.
    if (why === "suspended") return;
    if (why === "max-connections") this.srv.stats.connRefusedMax++;
    else this.srv.stats.connRefusedPerAddress++;
    this.since[why]++;
    if (this.timer === null) this.report();
  }

  private report(): void {
    const m = this.since["max-connections"];
    const p = this.since["per-address"];
    if (m + p === 0) {
      this.timer = null;
      return;
    }
    const parts: string[] = [];
    if (m > 0) parts.push(`${m} at the connection bound (${this.limits.maxConnections})`);
    if (p > 0) parts.push(`${p} over the per-address bound (${this.limits.maxPerAddress})`);
    log.warn(`refused ${m + p} connection(s): ${parts.join(", ")}`);
    this.since["max-connections"] = 0;
    this.since["per-address"] = 0;
    this.timer = setTimeout(() => this.report(), REFUSAL_LOG_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

const FD_CHECK_INTERVAL_MS = 1000;
/** Descriptors kept free before accepting stops, and free again before it resumes (large limits). */
const FD_PAUSE_MARGIN = 16;
const FD_RESUME_MARGIN = 48;

/**
 * When accepting stops (`used >= pauseAt`) and resumes (`used < resumeBelow`). The margins shrink
 * with small limits (⅛ and ¼ of them), and resuming never waits for fewer descriptors than the
 * process held when it started (`baseline`: runtime, database, listeners), which never close:
 * with `ulimit -n 64` fixed margins would ask for 16 open descriptors, below any baseline.
 */
export function fdThresholds(fdLimit: number, baseline: number): { pauseAt: number; resumeBelow: number } {
  const pause = Math.min(FD_PAUSE_MARGIN, Math.max(1, Math.floor(fdLimit / 8)));
  const resume = Math.min(FD_RESUME_MARGIN, Math.max(pause + 1, Math.floor(fdLimit / 4)));
  const pauseAt = fdLimit - pause;
  return { pauseAt, resumeBelow: Math.max(fdLimit - resume, Math.min(pauseAt, baseline + 2)) };
}

function openDescriptors(fdLimit: number): number | null {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch (e) {
    // Listing the directory needs a descriptor too.
    const code = (e as { code?: unknown }).code;
    return code === "EMFILE" || code === "ENFILE" ? fdLimit : null;
  }
}

/**
 * While the process is out of file descriptors (for whatever reason: outgoing connections,
 * another limit lowered), Bun's listener retries the failing accept() without pause, at 100 %
 * CPU. So the listeners stop accepting until descriptors are free again: their listening sockets
 * are closed meanwhile (the port is unbound: new clients get "connection refused", and retry).
 * A port that cannot be bound again is retried every check and logged once a minute.
 */
export function watchFileDescriptors(
  listeners: readonly Pick<TlsServer, "port" | "pauseAccepting" | "resumeAccepting">[],
  fdLimit: number,
  probe: { count?: () => number | null; intervalMs?: number } = {},
): { stop(): void } {
  if (!Number.isFinite(fdLimit)) return { stop() {} };
  const count = probe.count ?? (() => openDescriptors(fdLimit));
  const { pauseAt, resumeBelow } = fdThresholds(fdLimit, count() ?? 0);
  let paused = false;
  let loggedAt = -Infinity;
  let relistenLoggedAt = -Infinity;
  const intervalMs = probe.intervalMs ?? FD_CHECK_INTERVAL_MS;
  const timer = setInterval(() => {
    const used = count();
    if (used === null) return;
    if (paused && used >= pauseAt) {
      // Still out, and some ports may have been bound again while others failed.
      for (const l of listeners) l.pauseAccepting();
    } else if (!paused && used >= pauseAt) {
      paused = true;
      for (const l of listeners) l.pauseAccepting();
      const now = Date.now();
      if (now - loggedAt >= REFUSAL_LOG_INTERVAL_MS) {
        loggedAt = now;
        log.warn(`file descriptors exhausted (${used} of ${fdLimit} open): not accepting connections until some close (the ports are unbound meanwhile); raise the limit (ulimit -n, LimitNOFILE=)`);
      }
    } else if (paused && used < resumeBelow) {
      // A listener already listening again is left as it is (resumeAccepting does nothing then).
      const failed: string[] = [];
      for (const l of listeners) {
        try {
          l.resumeAccepting();
        } catch (e) {
          failed.push(`port ${l.port}: ${(e as Error).message}`);
        }
      }
      if (failed.length === 0) {
        paused = false;
        log.note(`accepting connections again (${used} of ${fdLimit} file descriptors open)`);
      } else {
        const now = Date.now();
        if (now - relistenLoggedAt >= REFUSAL_LOG_INTERVAL_MS) {
          relistenLoggedAt = now;
          log.error(`cannot listen again on ${failed.join("; ")}; retrying every ${intervalMs} ms (logged once a minute)`);
        }
      }
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * Closes connections whose peer began a block and stopped sending (ours: the reference waits for
 * the inactive-client check, hours by default). Idle time between blocks is not limited. A block
 * is closed after 1–1.5 × `timeoutMs` without completing: checked every half timeout, closed when
 * seen unchanged at three checks.
 */
export function watchPartialBlocks(srv: SmpServer, timeoutMs: number): { stop(): void } {
  let seen = new Map<BlockTransport, { started: number; checks: number }>();
  const timer = setInterval(
    () => {
      const next = new Map<BlockTransport, { started: number; checks: number }>();
      for (const c of srv.clients) {
        const t = c.handle.transport;
        if (!t.partial) continue;
        const prev = seen.get(t);
        const mark = prev !== undefined && prev.started === t.blocksStarted ? { started: prev.started, checks: prev.checks + 1 } : { started: t.blocksStarted, checks: 1 };
        if (mark.checks >= 3) {
          srv.stats.partialBlockTimeouts++;
          log.debug("closing a connection that stopped in the middle of a block");
          c.handle.close();
        } else next.set(t, mark);
      }
      seen = next;
    },
    Math.max(1, Math.floor(timeoutMs / 2)),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
