// `smp-server start --nodes 2` as real processes (src/cli/supervisor.ts): two node processes on
// one SMP port (SO_REUSEPORT) and one PostgreSQL schema, both accepting connections; a node
// killed with SIGKILL is restarted; SIGTERM to the supervisor stops every node and leaves no
// listener; the compiled executable does the same with copies of itself; a node that cannot
// start stops the start with a non-zero exit; SQLite is refused.
// Every wait is for an event (a log line, an answer), never for a time.
import { SQL, type Subprocess } from "bun";
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/cli/config.ts";
import { SMPClient } from "../../src/client/client.ts";
import { versionRange } from "../../src/protocol/versions.ts";
import { freePort, MAIN, ROOT } from "../fixtures/run-cli.ts";
import { ControlClient } from "../server/ops/control-client.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../store/postgres.ts";

const uri = testPostgresUri();
const bases: string[] = [];
const schemas: string[] = [];
const procs: Subprocess[] = [];
const pids: number[] = [];

afterEach(() => {
  for (const p of procs.splice(0)) p.kill("SIGKILL");
  for (const pid of pids.splice(0))
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
});
afterAll(async () => {
  for (const b of bases) rmSync(b, { recursive: true, force: true });
  if (uri !== null) await dropTestSchemas(uri, schemas);
});

/** A free port whose next one is free too: node 2's optional listeners use port + 1. */
function freePortPair(): number {
  for (;;) {
    const port = freePort();
    try {
      Bun.listen({ hostname: "127.0.0.1", port: port + 1, socket: { data() {} } }).stop(true);
      return port;
    } catch {
      // taken: another pair
    }
  }
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

interface ServerDir {
  flags: string[];
  /** The PostgreSQL schema, "" on SQLite. */
  schema: string;
  port: number;
  controlPort: number;
  metricsPort: number;
  fingerprint: string;
  adminPassword: string;
}

/** `init` in a temporary directory; with `pg`, the store is that schema (created unless `missing`). */
async function serverDir(pg: { schema: string; create: boolean } | null): Promise<ServerDir> {
  const base = mkdtempSync(join(tmpdir(), "smp-nodes-"));
  bases.push(base);
  const flags = ["--config-dir", join(base, "etc"), "--data-dir", join(base, "var")];
  const port = freePort();
  const controlPort = freePortPair();
  const metricsPort = freePortPair();
  const init = Bun.spawnSync([process.execPath, MAIN, "init", ...flags, "--port", String(port), "--no-password", "--control-port", String(controlPort), "--disable-web"], { cwd: ROOT });
  expect(init.exitCode).toBe(0);
  const fingerprint = /smp:\/\/([^@:]+)@/.exec(init.stdout.toString())![1]!;
  const file = join(base, "etc", "smp-server.toml");
  writeFileSync(file, readFileSync(file, "utf8").replace("[PROMETHEUS]\n", `[PROMETHEUS]\nhttp = "127.0.0.1:${metricsPort}"\n`));
  if (pg !== null) {
    schemas.push(pg.schema);
    if (pg.create) {
      const sql = new SQL(uri!, { max: 1 });
      await sql.unsafe(`CREATE SCHEMA "${pg.schema}"`);
      await sql.close();
    }
    writeFileSync(file, readFileSync(file, "utf8").replace("[STORE_LOG]\n", `[STORE_LOG]\ndb_connection = "${uri}"\ndb_schema = "${pg.schema}"\ndb_pool_size = 3\n`));
  }
  const adminPassword = parseConfig(readFileSync(file, "utf8"), file).auth.controlPortAdminPassword!;
  return { flags, schema: pg?.schema ?? "", port, controlPort, metricsPort, fingerprint, adminPassword };
}

/** The supervisor's output, read as it comes, with a wait for a line matching a pattern. */
class Output {
  text = "";
  private waiters: (() => void)[] = [];
  done = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      const dec = new TextDecoder();
      for await (const chunk of stream) {
        this.text += dec.decode(chunk);
        for (const w of this.waiters.splice(0)) w();
      }
      this.done = true;
      for (const w of this.waiters.splice(0)) w();
    })();
  }

  /** The first match after `from` (an offset in the text). */
  async waitFor(re: RegExp, from = 0): Promise<RegExpExecArray> {
    for (;;) {
      const m = re.exec(this.text.slice(from));
      if (m !== null) return m;
      if (this.done) throw new Error(`output ended without ${re}:\n${this.text}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
}

function startSupervisor(d: ServerDir, nodes: string): { proc: Subprocess<"ignore", "pipe", "pipe">; err: Output; out: Output } {
  const proc = Bun.spawn([process.execPath, MAIN, "start", ...d.flags, "--nodes", nodes], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  procs.push(proc);
  return { proc, err: new Output(proc.stderr), out: new Output(proc.stdout) };
}

const control = ControlClient.command;

const clientsOf = async (d: ServerDir, index: number): Promise<number> => {
  const info = await control(d.controlPort + index - 1, d.adminPassword, "server-info");
  expect(info).toContain(`Node: ${/^Node: (\S+)/m.exec(info.join("\n"))![1]} (${index} of 2 on its machine)`);
  return Number(/^Clients: (\d+)$/m.exec(info.join("\n"))![1]);
};

const refused = (port: number) =>
  Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
    (s) => {
      s.end();
      return false;
    },
    () => true,
  );

(uri === null ? describe.skip : describe)("start --nodes 2 on PostgreSQL", () => {
  test("both nodes serve the one port; a killed node is restarted; SIGTERM stops all", async () => {
    const d = await serverDir({ schema: testSchemaName(), create: true });
    const { proc, err } = startSupervisor(d, "2");
    const running = await err.waitFor(/2 nodes running \(pids (\d+), (\d+)\)/);
    const [pid1, pid2] = [Number(running[1]), Number(running[2])];
    pids.push(pid1, pid2);

    // Each node serves its own metrics, node 2 on the configured port + 1.
    for (const index of [1, 2]) {
      const text = await (await fetch(`http://127.0.0.1:${d.metricsPort + index - 1}/metrics`)).text();
      expect(text).toMatch(new RegExp(`^simplex_smp_node_info\\{node="[^"]+-${index}",index="${index}",count="2"\\} 1$`, "m"));
      expect(text).toContain("# TYPE simplex_smp_queues_created counter");
    }

    // Connections to the one port until each node holds one (the kernel spreads them by hash).
    const clients: SMPClient[] = [];
    const address = `smp://${d.fingerprint}@127.0.0.1:${d.port}`;
    try {
      while ((await clientsOf(d, 1)) === 0 || (await clientsOf(d, 2)) === 0) {
        if (clients.length >= 64) throw new Error("64 connections and one node has none");
        clients.push(await SMPClient.connect({ server: address, versionRange: versionRange(6, 20), timeoutMs: 5000, connectTimeoutMs: 5000 }));
      }
      expect((await clientsOf(d, 1)) + (await clientsOf(d, 2))).toBe(clients.length);
    } finally {
      for (const c of clients) c.close();
    }

    // kill -9 of node 2: the supervisor says so and starts it again.
    const mark = err.text.length;
    process.kill(pid2, "SIGKILL");
    await err.waitFor(/node 2 was killed by SIGKILL; restarting it in 1 s \(restart 1 of this node, 1 in all\)/, mark);
    const again = await err.waitFor(/node 2 ready \(pid (\d+)\)/, mark);
    const pid3 = Number(again[1]);
    pids.push(pid3);
    expect(pid3).not.toBe(pid2);
    expect(await clientsOf(d, 2)).toBe(0);
    expect(alive(pid1)).toBe(true);
    // The operator's way to one node: `control --node N`.
    const cli = Bun.spawnSync([process.execPath, MAIN, "control", ...d.flags, "--node", "2", "server-info"], { cwd: ROOT });
    expect(cli.exitCode).toBe(0);
    expect(cli.stdout.toString()).toMatch(/^Node: \S+-2 \(2 of 2 on its machine\)$/m);

    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    await err.waitFor(/all nodes stopped/);
    expect(alive(pid1)).toBe(false);
    expect(alive(pid3)).toBe(false);
    expect(await refused(d.port)).toBe(true);
    expect(await refused(d.controlPort)).toBe(true);
    expect(await refused(d.controlPort + 1)).toBe(true);
    expect(await refused(d.metricsPort)).toBe(true);
    expect(await refused(d.metricsPort + 1)).toBe(true);
  }, 120_000);

  test("the compiled executable supervises copies of itself", async () => {
    // As build.ts builds it: the nodes are started as the binary itself, not as bun + main.ts.
    // Built before the ports are chosen: they are free when chosen, and the longer the wait until
    // the nodes listen, the likelier another process takes one (once, node 2's control port
    // refused connections after a build between the two).
    const bin = mkdtempSync(join(tmpdir(), "smp-nodes-bin-"));
    bases.push(bin);
    const exe = join(bin, "smp-server");
    const build = Bun.spawnSync([process.execPath, "build", "--compile", "--minify", "--splitting", MAIN, "--outfile", exe], { cwd: ROOT });
    expect(build.exitCode).toBe(0);
    const d = await serverDir({ schema: testSchemaName(), create: true });
    const proc = Bun.spawn([exe, "start", ...d.flags, "--nodes", "2"], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    procs.push(proc);
    const err = new Output(proc.stderr);
    const running = await err.waitFor(/2 nodes running \(pids (\d+), (\d+)\)/);
    const nodePids = [Number(running[1]), Number(running[2])];
    pids.push(...nodePids);
    for (const pid of nodePids) expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe(exe);
    expect(await clientsOf(d, 2).catch((e: Error) => Promise.reject(new Error(`${e.message}; the supervisor's output:\n${err.text}`)))).toBe(0);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    for (const pid of nodePids) expect(alive(pid)).toBe(false);
    rmSync(exe, { force: true });
  }, 120_000);

  test("nodes whose supervisor is killed stop themselves: none serves on, unsupervised", async () => {
    const d = await serverDir({ schema: testSchemaName(), create: true });
    const { proc, err } = startSupervisor(d, "2");
    const running = await err.waitFor(/2 nodes running \(pids (\d+), (\d+)\)/);
    const nodePids = [Number(running[1]), Number(running[2])];
    pids.push(...nodePids);
    proc.kill("SIGKILL");
    await proc.exited;
    // Their IPC channel closed: each stops as on SIGTERM (the event is their exit).
    while (nodePids.some(alive)) await Bun.sleep(20);
    expect(await refused(d.port)).toBe(true);
  }, 60_000);

  test("the same nodes started twice: the second refuses, naming [NODES] name and the file", async () => {
    const d = await serverDir({ schema: testSchemaName(), create: true });
    const { proc, err } = startSupervisor(d, "2");
    const running = await err.waitFor(/2 nodes running \(pids (\d+), (\d+)\)/);
    pids.push(Number(running[1]), Number(running[2]));
    // SO_REUSEPORT would let it listen: its node 1 is refused by the store instead.
    const again = startSupervisor(d, "2");
    expect(await again.proc.exited).toBe(1);
    const file = join(d.flags[1]!, "smp-server.toml");
    const host = hostname().split(".")[0];
    expect(again.err.text).toContain(
      `Error: node ${host}-1 already runs on PostgreSQL schema ${d.schema}: this server is started twice, or another machine has the same [NODES] name (not set, so the host name "${host}"). Stop the other one, or give each machine its own [NODES] name in ${file}.`,
    );
    expect(again.err.text).toContain("Error: node 1 of 2 did not start");
    // The first keeps serving.
    expect(await clientsOf(d, 2)).toBe(0);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  }, 120_000);

  test("a plain server on PostgreSQL is no node; started twice, the second refuses", async () => {
    const d = await serverDir({ schema: testSchemaName(), create: true });
    const plain = () => {
      const proc = Bun.spawn([process.execPath, MAIN, "start", ...d.flags], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      procs.push(proc);
      return { proc, err: new Output(proc.stderr), out: new Output(proc.stdout) };
    };
    const first = plain();
    await first.out.waitFor(/Serving SMP protocol on port/);
    // The reference's server-info: no node or cluster lines.
    expect((await control(d.controlPort, d.adminPassword, "server-info")).filter((l) => /^(Node|Cluster)/.test(l))).toEqual([]);
    const second = plain();
    expect(await second.proc.exited).toBe(1);
    expect(second.err.text).toContain(
      `Error: a server without [NODES] name already runs on PostgreSQL schema ${d.schema}: this server is started twice, or another machine uses the schema. Stop the other one; several machines serving one address each need their own [NODES] name in ${join(d.flags[1]!, "smp-server.toml")}.`,
    );
    first.proc.kill("SIGTERM");
    expect(await first.proc.exited).toBe(0);
  }, 60_000);

  test("a node that cannot start stops the start: exit code non-zero, no restart", async () => {
    // The schema does not exist: node 1 refuses to start (a wrong URI or a lost database).
    const d = await serverDir({ schema: testSchemaName(), create: false });
    const { proc, err, out } = startSupervisor(d, "2");
    expect(await proc.exited).toBe(1);
    await err.waitFor(/node 1 started/);
    expect(err.text).toMatch(/Error: cannot use the PostgreSQL database: .*schema "t_\w+" does not exist/);
    expect(err.text).toContain("Error: node 1 of 2 did not start (exit code 1, its messages are above); stopping");
    expect(err.text).not.toContain("node 2 started");
    expect(err.text).not.toContain("restarting");
    expect(out.text).not.toContain("Serving SMP protocol");
  }, 60_000);
});

describe("start --nodes on SQLite", () => {
  test("refused before anything starts, naming the option, the file and the reason", async () => {
    const d = await serverDir(null);
    const r = Bun.spawnSync([process.execPath, MAIN, "start", ...d.flags, "--nodes", "2"], { cwd: ROOT });
    expect(r.exitCode).toBe(1);
    const file = join(d.flags[1]!, "smp-server.toml");
    expect(r.stderr.toString()).toBe(
      `Error: --nodes 2: 2 nodes need the PostgreSQL store: the SQLite database is used by one server process only; ${file} has no [STORE_LOG] db_connection\nRun \`smp-server start --help\` for the available options.\n`,
    );
    expect(r.stdout.toString()).toBe("");
  });

  test("a server not initialized yet is not initialized for several nodes", () => {
    const base = mkdtempSync(join(tmpdir(), "smp-nodes-"));
    bases.push(base);
    const r = Bun.spawnSync([process.execPath, MAIN, "start", "--config-dir", join(base, "etc"), "--data-dir", join(base, "var"), "--nodes", "3"], { cwd: ROOT });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toStartWith(`Error: --nodes 3: ${join(base, "etc", "smp-server.toml")} does not exist, and a new server would use the SQLite database`);
    expect(existsSync(join(base, "etc"))).toBe(false);
  });
});
