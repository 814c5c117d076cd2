/**
 * The server under test, as a separate process: the compiled binary (`dist/smp-server-linux-x64`,
 * rebuilt first when missing or older than the sources) or `bun src/cli/main.ts`. It is
 * initialized in temporary directories, and its GC is watched through JavaScriptCore's `logGC`
 * option (BUN_JSC_logGC=1): every collection prints its pause times on stderr.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { lines } from "./child.ts";

export const ROOT = join(import.meta.dir, "..", "..");

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The x64 binary, built if absent or stale; null when building is not possible. */
export function ensureBinary(arch: "x64" | "arm64", log: (s: string) => void): string {
  const bin = join(ROOT, "dist", `smp-server-linux-${arch}`);
  const srcTime = Math.max(newestMtime(join(ROOT, "src")), statSync(join(ROOT, "package.json")).mtimeMs);
  if (existsSync(bin) && statSync(bin).mtimeMs >= srcTime) return bin;
  log(`building ${bin} (${existsSync(bin) ? "older than src/" : "absent"})…`);
  const r = Bun.spawnSync([process.execPath, "build.ts", arch], { cwd: ROOT, stdout: "ignore", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`build of ${arch} failed`);
  return bin;
}

export interface GcLog {
  /** Sum of the mutator pauses reported so far, ms. */
  pauseMs: number;
  /** Completed collections so far. */
  cycles: number;
}

export interface ServerSpec {
  /** argv prefix: [binary] or [bun, src/cli/main.ts]. */
  readonly command: string[];
  readonly configDir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly address: string;
}

/** A free TCP port on 127.0.0.1 (the kernel's choice). */
export function freePort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = l.port;
  l.stop(true);
  return p;
}

/** `smp-server init` in fresh temporary directories; connections limit raised for the idle test. */
export function initServer(
  command: string[],
  maxConnections: number,
  persistent = true,
  postgres?: { uri: string; schema: string },
): ServerSpec {
  const base = mkdtempSync(join(tmpdir(), "smp-bench-"));
  const configDir = join(base, "config");
  const dataDir = join(base, "data");
  const port = freePort();
  const r = Bun.spawnSync([...command, "init", "--no-password", "--ip", "127.0.0.1", "--port", String(port), "--config-dir", configDir, "--data-dir", dataDir], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`init failed: ${r.stderr.toString()}`);
  const fingerprint = /Fingerprint: (\S+)/.exec(r.stdout.toString())?.[1];
  if (fingerprint === undefined) throw new Error("init printed no fingerprint");
  const toml = join(configDir, "smp-server.toml");
  const cfg = readFileSync(toml, "utf8");
  if (!/^# max_connections = \d+$/m.test(cfg)) throw new Error("smp-server.toml has no max_connections line to set");
  let edited = cfg.replace(/^# max_connections = \d+$/m, `max_connections = ${maxConnections}`);
  if (!persistent) edited = edited.replace(/^\[STORE_LOG\]\nenable = true$/m, "[STORE_LOG]\nenable = false");
  if (postgres !== undefined)
    edited = edited.replace(/^\[STORE_LOG\]\n/m, `[STORE_LOG]\ndb_connection = "${postgres.uri}"\ndb_schema = "${postgres.schema}"\n`);
  writeFileSync(toml, edited);
  return { command, configDir, dataDir, port, address: `smp://${fingerprint}@127.0.0.1:${port}` };
}

/** Polls with plain TCP connections (closed at once) until the port accepts one. */
async function acceptsConnections(port: number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return false;
}

export function removeServerDirs(spec: ServerSpec): void {
  rmSync(join(spec.configDir, ".."), { recursive: true, force: true });
}

export class ServerProcess {
  readonly gc: GcLog = { pauseMs: 0, cycles: 0 };
  private constructor(readonly proc: Subprocess<"ignore", "pipe", "pipe">) {}

  get pid(): number {
    return this.proc.pid;
  }

  static async start(spec: ServerSpec, opts: { gcLog: boolean; env?: Record<string, string>; ulimitFiles?: number }): Promise<ServerProcess> {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...opts.env };
    if (opts.gcLog) env.BUN_JSC_logGC = "1";
    const argv = [...spec.command, "start", "--log-level", "warn", "--config-dir", spec.configDir, "--data-dir", spec.dataDir];
    // `exec` keeps the pid: /proc figures are the server's own.
    const cmd = opts.ulimitFiles === undefined ? argv : ["/bin/sh", "-c", `ulimit -n ${opts.ulimitFiles | 0} && exec "$@"`, "sh", ...argv];
    const proc = Bun.spawn(cmd, {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env,
    });
    const s = new ServerProcess(proc);
    void s.watchStderr();
    let resolveReady!: (ok: boolean) => void;
    const ready = new Promise<boolean>((r) => (resolveReady = r));
    void (async () => {
      // Keeps draining stdout after the start-up lines so the server never blocks on a full pipe.
      for await (const line of lines(proc.stdout)) if (line.startsWith("Serving SMP protocol on port")) resolveReady(true);
      resolveReady(false);
    })();
    const timer = setTimeout(() => resolveReady(false), 30_000);
    const ok = await ready;
    clearTimeout(timer);
    // The summary follows the open listeners; checking that the port accepts costs little.
    if (!ok || !(await acceptsConnections(spec.port, 30_000))) {
      proc.kill("SIGKILL");
      throw new Error("server did not start");
    }
    return s;
  }

  private async watchStderr(): Promise<void> {
    for await (const line of lines(this.proc.stderr)) {
      if (line.startsWith("[GC<")) {
        // JSC Heap logGC: every stop-the-world pause ends its line with "p=<ms>ms (max …)".
        const m = /p=([\d.]+)ms \(max/.exec(line);
        if (m !== null) this.gc.pauseMs += Number(m[1]);
        if (line.endsWith("END]")) this.gc.cycles++;
      } else if (line.startsWith("GC END") || line.startsWith("Requesting GC") || line.includes("epilogue") || line.startsWith("[shrinkFootprint")) {
        // other logGC lines
      } else if (line.trim().length > 0) {
        process.stderr.write(`[server] ${line}\n`);
      }
    }
  }

  async stop(): Promise<number> {
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 15_000);
    const code = await this.proc.exited;
    clearTimeout(t);
    return code;
  }
}
