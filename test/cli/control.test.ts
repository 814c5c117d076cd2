// `smp-server control …` and `smp-server stats` against a running server: the port and password
// come from smp-server.toml, the reply is what the control port printed.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base64url } from "../../src/encoding/base64.ts";
import { main } from "../../src/cli/main.ts";
import { currentPathEnv } from "../../src/cli/paths.ts";
import { setLogLevel } from "../../src/util/log.ts";
import { startTestServer, type TestServer } from "../server/harness.ts";
import { connect, send, sr, err } from "../server/helpers.ts";
import { ControlClient } from "../server/ops/control-client.ts";
import { MAX_SESSIONS } from "../../src/server/control/server.ts";

let srv: TestServer;
let cfgDir: string;

beforeAll(async () => {
  setLogLevel("error");
  srv = await startTestServer({ control: { port: 0, adminPassword: "adm", userPassword: "usr", dailyBlockQueueQuota: 20 } });
  cfgDir = mkdtempSync(join(tmpdir(), "smp-cfg-"));
  writeFileSync(
    join(cfgDir, "smp-server.toml"),
    `[TRANSPORT]\nport = [5223]\ncontrol_port = ${srv.control!.port}\n\n[AUTH]\ncontrol_port_admin_password = "adm"\ncontrol_port_user_password = "usr"\n`,
  );
});
afterAll(async () => {
  setLogLevel("info"); // the default; other test files in this process expect it
  await srv.stop();
  rmSync(cfgDir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number | undefined; out: string[]; err: string[] }> {
  const out: string[] = [];
  const errs: string[] = [];
  const code = await main(args, { pathEnv: currentPathEnv(), stdinIsTTY: false, out: (l) => out.push(l), err: (l) => errs.push(l) });
  return { code, out, err: errs };
}

test("control stats / clients (admin by default) and --role user", async () => {
  const stats = await cli(["control", "--config-dir", cfgDir, "stats"]);
  expect(stats.code).toBe(0);
  expect(stats.out.some((l) => l.startsWith("qCreated: "))).toBe(true);
  expect((await cli(["control", "--config-dir", cfgDir, "clients"])).out[0]).toBe("clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions");
  const asUser = await cli(["control", "--role", "user", "--config-dir", cfgDir, "clients"]);
  expect(asUser).toEqual({ code: 1, out: ["AUTH"], err: [] });
});

test("control block <id> reason=…: the queue is blocked for its sender", async () => {
  const c = await connect(srv);
  try {
    const q = await c.createQueue({ subMode: "C" });
    const r = await cli(["control", "--config-dir", cfgDir, "block", base64url(q.sndId), "reason=spam"]);
    expect(r).toEqual({ code: 0, out: ["ok, queue blocked: EntityBlocked (BlockingInfo {reason = BRSpam, notice = Nothing})"], err: [] });
    expect(await sr(c, null, "1", q.sndId, send("x"))).toEqual(err({ type: "BLOCKED", info: { reason: "spam", notice: null } }));
    expect((await cli(["control", "--config-dir", cfgDir, "bogus"])).out).toEqual(["error: Failed reading: bad ControlProtocol command"]);
  } finally {
    c.close();
  }
});

test("stats prints a table", async () => {
  const r = await cli(["stats", "--config-dir", cfgDir]);
  expect(r.code).toBe(0);
  expect(r.out[0]).toMatch(/^statistic +value/);
  expect(r.out.some((l) => /^qCreated +\d+$/.test(l))).toBe(true);
  expect(r.out.some((l) => /^pRelays +requests=\d+/.test(l))).toBe(true);
});

test("without control_port in the configuration: a clear error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "smp-cfg-"));
  writeFileSync(join(dir, "smp-server.toml"), `[TRANSPORT]\nport = [5223]\n`);
  const r = await cli(["control", "--config-dir", dir, "stats"]);
  expect(r.code).toBe(1);
  expect(r.err[0]).toContain("control_port");
  rmSync(dir, { recursive: true, force: true });
});

test("stats --watch 1 --count 2: a live view, redrawn with a change column", async () => {
  const r = await cli(["stats", "--config-dir", cfgDir, "--watch", "1", "--count", "2"]);
  expect(r.code).toBe(0);
  const headers = r.out.filter((l) => /^statistic +value +change$/.test(l));
  expect(headers.length).toBe(2);
  expect(r.out.filter((l) => l.startsWith("\x1b[H\x1b[2J")).length).toBe(2);
  expect((await cli(["stats", "--config-dir", cfgDir, "--count", "2"])).err[0]).toContain("--count needs --watch");
  expect((await cli(["stats", "--config-dir", cfgDir, "--watch", "0"])).err[0]).toContain("--watch");
});

test("a wrong configured password: said so, with the server's answer", async () => {
  const dir = mkdtempSync(join(tmpdir(), "smp-cfg-"));
  writeFileSync(join(dir, "smp-server.toml"), `[TRANSPORT]\nport = [5223]\ncontrol_port = ${srv.control!.port}\n\n[AUTH]\ncontrol_port_admin_password = "wrong"\n`);
  const r = await cli(["control", "--config-dir", dir, "stats"]);
  expect(r.code).toBe(1);
  expect(r.err).toEqual(["Error: the control port refused the configured password (Current role is CPRNone)"]);
  rmSync(dir, { recursive: true, force: true });
});

test("every session place held by authenticated sessions: the server's refusal is printed, not a password error", async () => {
  const held: ControlClient[] = [];
  try {
    for (let i = 0; i < MAX_SESSIONS; i++) {
      const c = await ControlClient.open(srv.control!.port);
      held.push(c);
      await c.greeting();
      expect(await c.cmd("auth usr")).toEqual(["Current role is CPRUser"]);
    }
    const r = await cli(["control", "--config-dir", cfgDir, "stats"]);
    expect(r.code).toBe(1);
    expect(r.err).toEqual(["Error: the control port did not accept the session: error: too many control port sessions"]);
  } finally {
    for (const c of held) c.close();
  }
});
