/**
 * `start` refuses what would silently lose data or mislead the operator: a missing database of
 * an initialized server, a damaged database, and a summary that says "Serving" before the
 * listeners are open (the executable spawned as `bun src/cli/main.ts …`).
 */
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import { created } from "../store/helpers.ts";
import { freePort as freePortOn, MAIN, ROOT } from "../fixtures/run-cli.ts";

const SERVING = "Serving SMP protocol on port";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dirs(): { cfg: string; data: string; db: string; flags: string[] } {
  const base = mkdtempSync(join(tmpdir(), "smp-start-"));
  const cfg = join(base, "etc");
  const data = join(base, "var");
  return { cfg, data, db: join(data, "smp-server.sqlite"), flags: ["--config-dir", cfg, "--data-dir", data] };
}

function runSync(args: string[]): Run {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/**
 * Runs `start` until it exits or says it is serving (then it is stopped with SIGTERM): a server
 * that wrongly starts ends the test instead of hanging it.
 */
async function runStart(args: string[]): Promise<Run & { served: boolean }> {
  const p = Bun.spawn([process.execPath, MAIN, "start", ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let stdout = "";
  let served = false;
  const dec = new TextDecoder();
  const stderr = new Response(p.stderr).text();
  for await (const chunk of p.stdout) {
    stdout += dec.decode(chunk);
    if (!served && stdout.includes(SERVING)) {
      served = true;
      p.kill("SIGTERM");
    }
  }
  return { code: await p.exited, stdout, stderr: await stderr, served };
}

/** A port that something else listens on for the duration of `f`. */
async function withBusyPort<T>(f: (port: number) => Promise<T>): Promise<T> {
  const busy = Bun.listen({ hostname: "0.0.0.0", port: 0, socket: { data() {} } });
  try {
    return await f(busy.port);
  } finally {
    busy.stop(true);
  }
}

/** A free port for a server that must really start: it binds every address, so probed there. */
const freePort = (): number => freePortOn("0.0.0.0");

describe("a missing database", () => {
  test("init creates the store; deleting it stops start-up with a message saying so, and the file is not recreated", async () => {
    const d = dirs();
    expect(runSync(["init", ...d.flags, "--port", String(freePort()), "--no-password"]).code).toBe(0);
    expect(existsSync(d.db)).toBe(true);
    rmSync(d.db);
    const r = await runStart(d.flags);
    expect(r.served).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the server is initialized (${join(d.cfg, "smp-server.toml")} exists) but its database ${d.db} does not exist`);
    expect(r.stderr).toContain("smp-server start --create-store");
    expect(existsSync(d.db)).toBe(false);
  });

  test("an unmounted data volume (the directory itself missing) is not created either", async () => {
    const d = dirs();
    expect(runSync(["init", ...d.flags, "--port", String(freePort()), "--no-password"]).code).toBe(0);
    rmSync(d.data, { recursive: true });
    const r = await runStart(d.flags);
    expect(r.served).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`its database ${d.db} does not exist`);
    expect(existsSync(d.data)).toBe(false);
  });

  test("start --create-store creates a fresh store deliberately and serves", async () => {
    const d = dirs();
    expect(runSync(["init", ...d.flags, "--port", String(freePort()), "--no-password"]).code).toBe(0);
    rmSync(d.db);
    const r = await runStart([...d.flags, "--create-store"]);
    // Nothing but the note of the clean stop this test asks for (the handlers are in place as soon as it serves).
    expect(r.stderr.replace(/^\S+ \[NOTE\] SIGTERM received, stopping the server\n/m, "")).toBe("");
    expect(r.served).toBe(true);
    expect(existsSync(d.db)).toBe(true);
  });
});

describe("a damaged database", () => {
  test("start refuses with SQLite's quick_check words, the file and the recovery commands", async () => {
    const d = dirs();
    expect(runSync(["init", ...d.flags, "--port", String(freePort()), "--no-password"]).code).toBe(0);
    const s = openSqliteStore({ path: d.db });
    for (let i = 0; i < 2000; i++) await created(s);
    await s.close();
    // 4 KB of bytes no b-tree page can start with, over a page in the middle of the file.
    const pages = statSync(d.db).size / 4096;
    expect(pages).toBeGreaterThan(8);
    const fd = openSync(d.db, "r+");
    writeSync(fd, new Uint8Array(4096).fill(0xab), 0, 4096, Math.floor(pages / 2) * 4096);
    closeSync(fd);
    // What SQLite itself says about the file, independently of the server's code.
    // (quick_check lists what it found, or fails itself when a page it needs is unreadable).
    const db = new Database(d.db, { readonly: true });
    let sqliteSays: string;
    try {
      sqliteSays = (db.query("PRAGMA quick_check(10)").all() as { quick_check: string }[]).map((r) => r.quick_check).join("\n");
    } catch (e) {
      sqliteSays = (e as Error).message;
    }
    db.close();
    expect(sqliteSays).not.toBe("ok");

    const r = await runStart(d.flags);
    expect(r.served).toBe(false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the database ${d.db} is damaged`);
    expect(r.stderr).toContain(sqliteSays);
    expect(r.stderr).toContain(`sqlite3 ${d.db} .recover | sqlite3 ${d.db}.recovered`);
    expect(r.stderr).toContain("backup");
  });
});

test("a database file that cannot be opened is reported as such, not as damaged", async () => {
  const d = dirs();
  expect(runSync(["init", ...d.flags, "--port", String(freePort()), "--no-password"]).code).toBe(0);
  rmSync(d.db);
  mkdirSync(d.db); // a directory where the file should be: SQLITE_CANTOPEN
  const r = await runStart(d.flags);
  expect(r.served).toBe(false);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`Error: cannot use the database in ${d.data}`);
  expect(r.stderr).toContain("SQLITE_CANTOPEN");
  expect(r.stderr).not.toContain("damaged");
});

describe("the start-up summary", () => {
  test("a port in use: the error names the port, and nothing claims to be serving", async () => {
    const d = dirs();
    await withBusyPort(async (port) => {
      expect(runSync(["init", ...d.flags, "--port", String(port), "--no-password"]).code).toBe(0);
      const r = await runStart(d.flags);
      expect(r.served).toBe(false);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Error: cannot listen on port ${port} (::): the address is already in use`);
      expect(r.stdout).not.toContain(SERVING);
      expect(r.stdout).not.toContain("Fingerprint:");
    });
  });

  test("printed once, after the listeners are open", async () => {
    const d = dirs();
    const port = freePort();
    expect(runSync(["init", ...d.flags, "--port", String(port), "--no-password"]).code).toBe(0);
    const r = await runStart(d.flags);
    expect(r.served).toBe(true);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("Fingerprint: ")).length).toBe(1);
    expect(r.stdout).toContain(`${SERVING} ${port} (TLS)`);
  });

  test("zero-config first start does not print the address block twice nor tell the operator to run start", async () => {
    const d = dirs();
    // The default port (5223) is held here or by someone else: start-up fails at listen, after
    // the initialization's output, which is all this test looks at.
    let held: { stop(c: boolean): void } | null = null;
    try {
      held = Bun.listen({ hostname: "0.0.0.0", port: 5223, socket: { data() {} } });
    } catch {
      // already in use elsewhere
    }
    try {
      const r = await runStart(d.flags);
      expect(r.stdout).toContain("initializing with default settings");
      expect(r.stdout).not.toContain("Run `smp-server start` to start server.");
      expect(r.stdout.split("\n").filter((l) => l.startsWith("Fingerprint: ")).length).toBeLessThanOrEqual(1);
      if (!r.served) expect(r.stderr).toContain("cannot listen on port 5223");
    } finally {
      held?.stop(true);
    }
  });
});
