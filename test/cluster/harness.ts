/**
 * Real server processes sharing one PostgreSQL store (issue 18): a temporary installation made
 * with the CLI (`init`), switched to the PostgreSQL test cluster (SMP_TEST_PG_URI) on a fresh
 * schema of its own, then K node processes (`bun src/cli/main.ts start`), each on ITS OWN port —
 * the "several machines" deployment: the same identity files and configuration except the port,
 * the same schema. Tests choose the node each client talks to; `startSupervised` runs
 * `start --nodes N` on one port instead.
 *
 * Every process started here is killed when the test file ends (afterAll → `stop`), when the test
 * process exits (an exit handler), and — where util-linux's setpriv exists — when the test process
 * dies without running either (PR_SET_PDEATHSIG): no server outlives a failed test.
 */
import type { Subprocess } from "bun";
import { SQL } from "bun";
import { afterAll, beforeAll } from "bun:test";
import type { SMPClient } from "../../src/client/client.ts";
import { closeAll, connect } from "../server/helpers.ts";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, MAIN, ROOT, runCli } from "../fixtures/run-cli.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../store/postgres.ts";

const SERVING = "Serving SMP protocol on port";
const SETPRIV = "/usr/bin/setpriv";

/** Every live process started by this module, killed at exit whatever happened. */
const live = new Set<Subprocess>();
let exitHookInstalled = false;

function track(p: Subprocess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", () => {
      for (const q of live) q.kill("SIGKILL");
    });
  }
  live.add(p);
  void p.exited.then(() => live.delete(p));
}

/** `argv` run so that the kernel kills it if this process dies without its exit handler (SIGKILL, OOM); as is without setpriv. */
export function dyingWithParent(argv: string[]): string[] {
  return existsSync(SETPRIV) ? [SETPRIV, "--pdeathsig", "KILL", "--", ...argv] : argv;
}

/** Resolves once `port` accepts a TCP connection, or rejects when `exited` settles first. */
async function accepting(port: number, exited: Promise<number>, what: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`${what} exited before accepting connections`);
    try {
      const s = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
      s.end();
      return;
    } catch {
      await Bun.sleep(50); // polling interval, not a timing assertion
    }
  }
}

/** One server process (a node, or the `--nodes` supervisor). */
export class NodeProcess {
  /** Everything it printed (stdout and stderr), for failure messages. */
  output = "";
  private readonly serving: Promise<void>;
  private readonly waiters: { re: RegExp; from: number; done: (m: RegExpExecArray) => void }[] = [];

  private constructor(
    readonly name: string,
    readonly port: number,
    readonly address: string,
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
  ) {
    let ready!: () => void;
    let failed!: (e: Error) => void;
    this.serving = new Promise<void>((res, rej) => {
      ready = res;
      failed = rej;
    });
    const drain = async (stream: ReadableStream<Uint8Array>, watch: boolean): Promise<void> => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.output += dec.decode(chunk, { stream: true });
        if (watch && this.output.includes(SERVING)) ready();
        for (const w of [...this.waiters]) {
          const m = w.re.exec(this.output.slice(w.from));
          if (m !== null) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.done(m);
          }
        }
      }
    };
    void drain(proc.stdout, true);
    void drain(proc.stderr, false);
    void proc.exited.then((code) => failed(new Error(`${name} exited with ${code} before serving:\n${this.output}`)));
  }

  static spawn(name: string, port: number, address: string, args: string[], env: Record<string, string>): NodeProcess {
    const proc = Bun.spawn(dyingWithParent([process.execPath, MAIN, ...args]), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.HOME ?? tmpdir(), ...env },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    track(proc);
    return new NodeProcess(name, port, address, proc);
  }

  get pid(): number {
    return this.proc.pid;
  }

  /**
   * The first match of `re` in what it prints from now on (`fromStart`: in all it printed);
   * rejects if it exits first.
   */
  waitFor(re: RegExp, fromStart = false): Promise<RegExpExecArray> {
    const from = fromStart ? 0 : this.output.length;
    const m = re.exec(this.output.slice(from));
    if (m !== null) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      this.waiters.push({ re, from, done: resolve });
      void this.proc.exited.then((code) => reject(new Error(`${this.name} exited with ${code} while waiting for ${re}:\n${this.output}`)));
    });
  }

  get exited(): Promise<number> {
    return this.proc.exited;
  }

  /** Resolves when it printed the start-up summary and its port accepts connections. */
  async ready(): Promise<void> {
    await this.serving;
    await accepting(this.port, this.proc.exited, this.name);
  }

  /** kill -9: no clean-up of any kind (sockets closed by the kernel, no UNLISTEN, no COMMIT). */
  async kill9(): Promise<void> {
    this.proc.kill("SIGKILL");
    await this.proc.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited in 20 s (a hung stop fails the caller's checks, not the run). */
  async stop(): Promise<number> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return this.proc.exitCode ?? -1;
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 20_000);
    const code = await this.proc.exited;
    clearTimeout(t);
    return code;
  }
}

export interface ClusterOptions {
  /** Extra lines for smp-server.toml sections, e.g. `{ AUTH: "new_queues = true" }` (added under the header). */
  readonly toml?: Record<string, string>;
  /** --log-level of the nodes (default "warn": errors and warnings reach `output`). */
  readonly logLevel?: string;
}

/** One installation (identity, configuration, schema) that node processes start from. */
export class Cluster {
  readonly nodes: NodeProcess[] = [];
  private started = 0;

  private constructor(
    readonly base: string,
    readonly uri: string,
    readonly schema: string,
    readonly fingerprint: string,
    private readonly logLevel: string,
  ) {}

  /** `smp-server init` in a temporary directory, a fresh schema, db_connection/db_schema set. Null without PostgreSQL. */
  static async create(o: ClusterOptions = {}): Promise<Cluster | null> {
    const uri = testPostgresUri();
    if (uri === null) return null;
    const base = mkdtempSync(join(tmpdir(), "smp-cluster-"));
    const cfg = join(base, "etc");
    const r = runCli(["init", "--no-password", "--ip", "127.0.0.1", "--port", String(freePort()), "--config-dir", cfg, "--data-dir", join(base, "var")]);
    if (r.code !== 0) throw new Error(`init failed:\n${r.all}`);
    const fingerprint = /Fingerprint: (\S+)/.exec(r.stdout)?.[1];
    if (fingerprint === undefined) throw new Error(`init printed no fingerprint:\n${r.stdout}`);
    const schema = testSchemaName();
    const sql = new SQL(uri, { max: 1 });
    try {
      await sql.unsafe(`CREATE SCHEMA "${schema}"`);
    } finally {
      await sql.close();
    }
    const file = join(cfg, "smp-server.toml");
    let toml = readFileSync(file, "utf8").replace(/^\[STORE_LOG\]\n/m, `[STORE_LOG]\ndb_connection = "${uri}"\ndb_schema = "${schema}"\n`);
    for (const [section, lines] of Object.entries(o.toml ?? {})) {
      const header = new RegExp(`^\\[${section}\\]\\n`, "m");
      toml = header.test(toml) ? toml.replace(header, `[${section}]\n${lines}\n`) : `${toml}\n[${section}]\n${lines}\n`;
    }
    writeFileSync(file, toml);
    return new Cluster(base, uri, schema, fingerprint, o.logLevel ?? "warn");
  }

  /** The SMP address of a server listening on `port`. */
  addressAt(port: number): string {
    return `smp://${this.fingerprint}@127.0.0.1:${port}`;
  }

  /**
   * Starts one more node on a port of its own: a copy of the configuration directory (identity
   * files as they are) with only `port` changed, its own data directory (statistics files), the
   * shared schema. Resolves when it serves.
   */
  async startNode(): Promise<NodeProcess> {
    const i = ++this.started;
    const port = freePort();
    const cfg = join(this.base, `etc-${i}`);
    cpSync(join(this.base, "etc"), cfg, { recursive: true });
    const file = join(cfg, "smp-server.toml");
    let toml = readFileSync(file, "utf8").replace(/^port = .*$/m, `port = [${port}]`);
    // Each "machine" its own name where the configuration has one (node i shows as "machine<i>-1").
    toml = toml.replace(/^\[NODES\]\n/m, `[NODES]\nname = "machine${i}"\n`);
    writeFileSync(file, toml);
    const env = { SMP_SERVER_CFG_PATH: cfg, SMP_SERVER_LOG_PATH: join(this.base, `var-${i}`), HOME: this.base };
    const n = NodeProcess.spawn(`node ${i}`, port, this.addressAt(port), ["start", "--log-level", this.logLevel], env);
    this.nodes.push(n);
    await n.ready();
    return n;
  }

  /**
   * K nodes: the first alone (it creates the tables in the empty schema), then the others
   * together, as machines joining a running cluster do.
   */
  async startNodes(k: number): Promise<NodeProcess[]> {
    const first = await this.startNode();
    const rest = await Promise.all(Array.from({ length: k - 1 }, () => this.startNode()));
    return [first, ...rest];
  }

  /** `smp-server start --nodes n` on the installation's own port (one address, SO_REUSEPORT). */
  async startSupervised(n: number): Promise<NodeProcess> {
    const port = Number(/^port = \[(\d+)/m.exec(readFileSync(join(this.base, "etc", "smp-server.toml"), "utf8"))?.[1]);
    const env = { SMP_SERVER_CFG_PATH: join(this.base, "etc"), SMP_SERVER_LOG_PATH: join(this.base, "var"), HOME: this.base };
    const p = NodeProcess.spawn(`supervisor of ${n}`, port, this.addressAt(port), ["start", "--nodes", String(n), "--log-level", this.logLevel], env);
    this.nodes.push(p);
    await p.ready();
    return p;
  }

  /** Stops every process (SIGTERM, SIGKILL after 20 s), drops the schema, removes the directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    await dropTestSchemas(this.uri, [this.schema]);
    rmSync(this.base, { recursive: true, force: true });
  }
}

/** Whether the PostgreSQL variants can run; prints why not once (testPostgresUri). */
export const HAVE_PG = testPostgresUri() !== null;

export interface ClusterFixture {
  /** The clients a test opened through `on`/`keep`: closed after the describe's tests. */
  readonly clients: SMPClient[];
  /** A client of the SMP server, connected to node `n`. */
  on(n: NodeProcess): Promise<SMPClient>;
  keep<T extends SMPClient>(c: T): T;
}

/**
 * Inside a describe: a cluster of `k` nodes started before its tests (`started` gets them) and
 * stopped after them, with every client the tests kept.
 */
export function clusterFixture(k: number, timeoutMs: number, started: (nodes: NodeProcess[]) => void): ClusterFixture {
  let cluster: Cluster | null = null;
  const fx: ClusterFixture = {
    clients: [],
    keep(c) {
      fx.clients.push(c);
      return c;
    },
    on: async (n) => fx.keep(await connect(n)),
  };
  beforeAll(async () => {
    cluster = await Cluster.create();
    if (cluster === null) throw new Error("no PostgreSQL (SMP_TEST_PG_URI)");
    started(await cluster.startNodes(k));
  }, timeoutMs);
  afterAll(async () => {
    closeAll(fx.clients);
    await cluster?.stop();
  });
  return fx;
}
