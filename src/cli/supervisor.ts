/**
 * `start` with several nodes (issue 18): this process becomes a supervisor that runs N node
 * processes of the same executable, each told its index in the environment (nodes.ts), all
 * listening on the same ports (SO_REUSEPORT, the kernel spreads connections over them). The
 * supervisor opens no store and no listener: it holds only the node processes.
 *
 * Node 1 starts first and alone, so that one process checks the configuration and applies any
 * migration (and may ask, on the terminal, to confirm one); then the others start together.
 * A node that does not start in this first round (bad configuration, database, port) stops the
 * whole start with its exit code — restarting it could only fail again. Once running, a node
 * that ends is restarted after 1 s, doubling while it keeps failing (up to 30 s), each restart
 * logged and counted. SIGINT/SIGTERM stop every node (SIGTERM, so each closes cleanly), then
 * the supervisor exits: 0 if every node exited with 0. A node whose supervisor disappears stops
 * itself (its IPC channel closes, see start.ts).
 *
 * A node that cannot even be spawned (ENOENT, EAGAIN, EMFILE) counts as one that ended: in the
 * first round it stops the start, later it is retried with the same back-off. A node is not
 * restarted once the executable has changed on disk since the supervisor started (an upgrade
 * replaced it): the new version beside nodes of the old one could migrate the database under
 * them. Restarting the old version instead (/proc/self/exe) would hide the upgrade and is not
 * portable; the supervisor logs that the whole server must be restarted (systemctl restart) and
 * leaves the other nodes serving.
 */
import type { Subprocess } from "bun";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { log } from "../util/log.ts";
import { UsageError } from "./args.ts";
import { loadConfig, type SmpConfig } from "./config.ts";
import { CliError } from "./errors.ts";
import { NODE_COUNT_ENV, NODE_INDEX_ENV, nodeCount, READY_MESSAGE, startedAsNode } from "./nodes.ts";
import { configFile, type Paths } from "./paths.ts";

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/** A node that ran this long before ending starts again from the first back-off. */
const STABLE_MS = 60_000;

/** This executable again: the compiled binary itself, or bun running main.ts. */
function selfCommand(args: readonly string[]): string[] {
  const compiled = import.meta.path.startsWith("/$bunfs/") || import.meta.path.startsWith("B:/~BUN/");
  return [process.execPath, ...process.execArgv, ...(compiled ? [] : [join(import.meta.dir, "main.ts")]), ...args];
}

/**
 * How many nodes `start` runs here: 1 for a node itself (the environment names it) and for
 * `--maintenance`; otherwise `--nodes` or `[NODES] count`, refused without PostgreSQL. With the
 * configuration it read, so that a single server's start does not parse it again.
 */
export function nodesToSupervise(paths: Paths, flag: number | "auto" | undefined): { count: number; config?: SmpConfig } {
  if (startedAsNode()) return { count: 1 };
  const file = configFile(paths);
  if (!existsSync(file)) {
    if (flag === undefined || flag === 1) return { count: 1 };
    throw new UsageError(
      `--nodes ${flag}: ${file} does not exist, and a new server would use the SQLite database, which one server process only can use; run \`smp-server init\`, set [STORE_LOG] db_connection (PostgreSQL), then start with --nodes`,
    );
  }
  const config = loadConfig(file);
  return { count: nodeCount(flag, config.nodes, config.storeLog.postgres !== undefined, file), config };
}

/** What the supervisor needs of a node process (a Bun Subprocess). */
type NodeProcess = Pick<Subprocess, "pid" | "kill" | "exited">;

interface SpawnOptions {
  env: Record<string, string | undefined>;
  stdio: ["inherit" | "ignore", "inherit", "inherit"];
  ipc(message: unknown): void;
  onExit(proc: unknown, code: number | null, signal: number | string | null): void;
}

/** Seams for tests: how a node is spawned, the first back-off, the executable watched for upgrades. */
export interface SuperviseDeps {
  spawn?: (cmd: string[], options: SpawnOptions) => NodeProcess;
  firstBackoffMs?: number;
  executable?: string;
}

/** The executable's identity on disk: an upgrade replaces the file (a new inode) or rewrites it. */
function fileIdentity(path: string): string | null {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return null;
  }
}

interface Node {
  readonly index: number;
  proc: NodeProcess | null;
  ready: boolean;
  startedAt: number;
  /** Ends in a row without running STABLE_MS. */
  failures: number;
  restarts: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Settles the first round: "ready", or the exit code. */
  started: ((r: "ready" | number) => void) | null;
}

export interface Supervisor {
  readonly count: number;
  /** Restarts of crashed nodes so far. */
  readonly restarts: number;
  /** Stops every node; resolves to the exit code (0 if every node exited with 0). */
  stop(): Promise<number>;
}

const describeExit = (code: number | null, signal: string | null): string => (signal !== null ? `was killed by ${signal}` : `exited with code ${code}`);

/** Runs `count` nodes of `smp-server <args>`; resolves once all serve, or throws CliError. */
export async function supervise(args: readonly string[], count: number, deps: SuperviseDeps = {}): Promise<Supervisor> {
  const cmd = selfCommand(args);
  const spawn = deps.spawn ?? ((c: string[], o: SpawnOptions): NodeProcess => Bun.spawn(c, o));
  const firstBackoff = deps.firstBackoffMs ?? FIRST_BACKOFF_MS;
  const executable = deps.executable ?? process.execPath;
  const version = fileIdentity(executable);
  const nodes: Node[] = Array.from({ length: count }, (_, i) => ({ index: i + 1, proc: null, ready: false, startedAt: 0, failures: 0, restarts: 0, timer: undefined, started: null }));
  let stopping: Promise<number> | null = null;
  let restarts = 0;
  /** False during the first round: a node that ends then stops the start instead. */
  let restartable = false;

  const launch = (node: Node): Promise<"ready" | number> =>
    new Promise((settle) => {
      node.ready = false;
      node.started = settle;
      node.startedAt = Date.now();
      let proc: NodeProcess;
      try {
        proc = spawn(cmd, {
          env: { ...process.env, [NODE_INDEX_ENV]: String(node.index), [NODE_COUNT_ENV]: String(count) },
          // Only node 1 (alone when it starts first) may ask the operator to confirm a migration.
          stdio: [node.index === 1 ? "inherit" : "ignore", "inherit", "inherit"],
          ipc(message) {
            if (message !== READY_MESSAGE || node.proc !== proc) return;
            node.ready = true;
            log.note(`node ${node.index} ready (pid ${proc.pid})`);
            node.started?.("ready");
            node.started = null;
          },
          onExit(_p, code, signal) {
            if (node.proc === proc) node.proc = null;
            if (node.started !== null) {
              node.started(code === 0 || code === null ? 1 : code);
              node.started = null;
              if (!restartable) return;
            }
            if (stopping !== null) return;
            ended(node, describeExit(code, signal === null ? null : String(signal)));
          },
        });
      } catch (e) {
        // Thrown, not reported by onExit: without this the supervisor (and every node) would die
        // of an unhandled rejection in the restart path.
        const why = `could not be started (${(e as Error)?.message ?? String(e)})`;
        log.error(`node ${node.index} ${why}`);
        node.started = null;
        settle(1);
        if (restartable && stopping === null) ended(node, why);
        return;
      }
      node.proc = proc;
      log.info(`node ${node.index} started (pid ${proc.pid})`);
    });

  const ended = (node: Node, what: string) => {
    if (node.ready && Date.now() - node.startedAt >= STABLE_MS) node.failures = 0;
    const delay = Math.min(MAX_BACKOFF_MS, firstBackoff * 2 ** node.failures);
    node.failures++;
    node.restarts++;
    restarts++;
    log.warn(`node ${node.index} ${what}; restarting it in ${delay / 1000} s (restart ${node.restarts} of this node, ${restarts} in all)`);
    node.timer = setTimeout(() => {
      node.timer = undefined;
      if (stopping !== null) return;
      if (version !== null && fileIdentity(executable) !== version) {
        log.error(
          `node ${node.index} is NOT restarted: ${executable} changed since the nodes started (upgraded?), and a node of another version beside the running ones could migrate the database under them; restart the whole server (e.g. \`systemctl restart smp-server\`) to run the new version on every node`,
        );
        return;
      }
      void launch(node);
    }, delay);
  };

  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      for (const n of nodes) clearTimeout(n.timer);
      const running = nodes.map((n) => n.proc).filter((p): p is NodeProcess => p !== null);
      for (const p of running) p.kill("SIGTERM");
      const codes = await Promise.all(running.map((p) => p.exited));
      return codes.every((c) => c === 0) ? 0 : 1;
    })();
    return stopping;
  };

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn(`${signal} again: killing the nodes without waiting`);
      for (const n of nodes) n.proc?.kill("SIGKILL");
      process.exit(1);
    }
    signalled = true;
    log.note(`${signal} received, stopping ${count} nodes`);
    void stop().then((code) => {
      log.note(`all nodes stopped`);
      process.exit(code);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  // First round: node 1 alone, then the others together; any failure ends the start.
  const failed = async (index: number, code: number): Promise<never> => {
    await stop();
    // Stopped by a signal during the first round: not a failed start; onSignal exits.
    if (signalled) await new Promise(() => {});
    throw new CliError(`Error: node ${index} of ${count} did not start (exit code ${code}, its messages are above); stopping`, code === 0 ? 1 : code);
  };
  const first = await launch(nodes[0]!);
  if (first !== "ready") await failed(1, first);
  const rest = await Promise.all(nodes.slice(1).map(launch));
  const bad = rest.findIndex((r) => r !== "ready");
  if (bad >= 0) await failed(bad + 2, rest[bad] as number);
  restartable = true;
  log.note(`${count} nodes running (pids ${nodes.map((n) => n.proc?.pid).join(", ")})`);
  // What reading the configuration left: the supervisor holds only its node processes from now on.
  Bun.gc(true);
  return {
    count,
    get restarts() {
      return restarts;
    },
    stop,
  };
}
