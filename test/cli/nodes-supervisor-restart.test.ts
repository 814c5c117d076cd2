// The supervisor's restart path (src/cli/supervisor.ts) with an injected spawn: a spawn that
// throws (ENOENT, EAGAIN, EMFILE) stops a first round with a non-zero exit, and later is retried
// with the back-off instead of killing the supervisor with an unhandled rejection; a node is not
// restarted once the executable on disk has changed (an upgrade). Fake node processes, no timing:
// every wait is for a spawn call or a log line.
import { afterAll, afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError } from "../../src/cli/errors.ts";
import { READY_MESSAGE } from "../../src/cli/nodes.ts";
import { supervise, type SuperviseDeps } from "../../src/cli/supervisor.ts";
import { setLogSink } from "../../src/util/log.ts";

type Spawn = NonNullable<SuperviseDeps["spawn"]>;
type SpawnOptions = Parameters<Spawn>[1];

/** A node process that becomes ready at once and ends when told (or on kill). */
class FakeNode {
  static pids = 1000;
  readonly pid = FakeNode.pids++;
  private resolve!: (code: number) => void;
  readonly exited = new Promise<number>((r) => (this.resolve = r));
  private done = false;

  constructor(private readonly options: SpawnOptions) {
    queueMicrotask(() => options.ipc(READY_MESSAGE));
  }

  end(code: number): void {
    if (this.done) return;
    this.done = true;
    this.options.onExit(this, code, null);
    this.resolve(code);
  }

  kill(): void {
    this.end(0);
  }
}

/** spawn as a queue of behaviours: a node, or an error thrown as Bun.spawn throws it. */
class Spawner {
  readonly nodes: FakeNode[] = [];
  calls = 0;
  private failures: number[] = [];
  private waiters: (() => void)[] = [];

  /** The `n`-th call from now (0-based) throws. */
  failCall(n: number): void {
    this.failures.push(this.calls + n);
  }

  readonly spawn: Spawn = (_cmd, options) => {
    const call = this.calls++;
    for (const w of this.waiters.splice(0)) w();
    if (this.failures.includes(call)) throw Object.assign(new Error("spawn EAGAIN"), { code: "EAGAIN" });
    const n = new FakeNode(options);
    this.nodes.push(n);
    return n as unknown as ReturnType<Spawn>;
  };

  async waitCalls(n: number): Promise<void> {
    while (this.calls < n) await new Promise<void>((r) => this.waiters.push(r));
  }
}

const lines: string[] = [];
let lineWaiters: (() => void)[] = [];
let prevSink: (line: string) => void;
beforeEach(() => {
  lines.length = 0;
  prevSink = setLogSink((l) => {
    lines.push(l);
    for (const w of lineWaiters.splice(0)) w();
  });
});
afterEach(() => {
  setLogSink(prevSink);
  lineWaiters = [];
});
const waitLine = async (re: RegExp): Promise<string> => {
  for (;;) {
    const l = lines.find((x) => re.test(x));
    if (l !== undefined) return l;
    await new Promise<void>((r) => lineWaiters.push(r));
  }
};

const dir = mkdtempSync(join(tmpdir(), "smp-supervisor-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const exe = (name: string): string => {
  const path = join(dir, name);
  writeFileSync(path, "version 1");
  return path;
};

describe("supervisor restarts", () => {
  test("a spawn that throws in the first round stops the start with exit code 1", async () => {
    const s = new Spawner();
    s.failCall(1);
    const e = await supervise([], 2, { spawn: s.spawn, firstBackoffMs: 0, executable: exe("a") }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).message).toContain("node 2 of 2 did not start");
    // Node 1 was stopped.
    expect(await s.nodes[0]!.exited).toBe(0);
    expect(lines.some((l) => /node 2 could not be started \(spawn EAGAIN\)/.test(l))).toBe(true);
  });

  test("a spawn that throws on a restart is retried with the back-off; the supervisor lives on", async () => {
    const s = new Spawner();
    const sup = await supervise([], 2, { spawn: s.spawn, firstBackoffMs: 0, executable: exe("b") });
    expect(s.calls).toBe(2);
    // The restart of node 2 throws once, then succeeds.
    s.failCall(0);
    s.nodes[1]!.end(3);
    await s.waitCalls(4);
    await waitLine(/node 2 ready/);
    expect(lines.some((l) => /node 2 could not be started \(spawn EAGAIN\); restarting it/.test(l))).toBe(true);
    expect(sup.restarts).toBe(2);
    expect(await sup.stop()).toBe(0);
  });

  test("a node is not restarted once the executable has changed on disk", async () => {
    const s = new Spawner();
    const path = exe("c");
    const sup = await supervise([], 2, { spawn: s.spawn, firstBackoffMs: 0, executable: path });
    // An upgrade replaces the file (a package manager writes a new one and renames it).
    writeFileSync(`${path}.new`, "version 2, longer");
    renameSync(`${path}.new`, path);
    s.nodes[1]!.end(1);
    await waitLine(/node 2 is NOT restarted: .* changed since the nodes started/);
    expect(s.calls).toBe(2);
    // Node 1 still serves, and stops cleanly.
    expect(await sup.stop()).toBe(0);
    expect(await s.nodes[0]!.exited).toBe(0);
  });
});
