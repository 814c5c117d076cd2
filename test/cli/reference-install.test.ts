/**
 * The executable on a reference installation's directories and under the reference's unit file:
 * `start`/`init` never initialize over an identity (checksums of every file before/after), the
 * reference's start options and GHC's `+RTS … -RTS` are accepted, and SIGINT (the reference unit's
 * KillSignal) as well as SIGTERM stop a running server cleanly.
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { SMPClient } from "../../src/client/client.ts";
import { migrate, schemaVersion } from "../../src/store/sqlite/migrate.ts";
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/sqlite/schema.ts";
import { convertReferenceIni } from "../../src/cli/import/ini.ts";
import { importIdentity } from "../../src/cli/import/identity.ts";
import { iniFileContent } from "../fixtures/reference-ini.ts";
import { freePort, MAIN, ROOT, runCli } from "../fixtures/run-cli.ts";
import { checksums, hasOpenssl, makeReferenceCertificates } from "../fixtures/reference-identity.ts";
import { tempDirs } from "../fixtures/temp-dirs.ts";

const tempDir = tempDirs("smp-refinst-");

function dirs(): { cfg: string; data: string; flags: string[] } {
  const base = tempDir();
  const cfg = join(base, "etc");
  const data = join(base, "var");
  return { cfg, data, flags: ["--config-dir", cfg, "--data-dir", data] };
}

const run = runCli;

/** A reference installation as its `init` leaves it, plus the logs a running reference writes. */
function referenceInstallation(): { cfg: string; data: string; flags: string[] } {
  const d = dirs();
  mkdirSync(d.cfg, { recursive: true });
  mkdirSync(d.data, { recursive: true });
  makeReferenceCertificates(d.cfg, "ED448", "smp.example.com");
  writeFileSync(
    join(d.cfg, "smp-server.ini"),
    iniFileContent({ cfgPath: d.cfg, logPath: d.data, enableStoreLog: true, logStats: false, host: "smp.example.com", basicAuth: "secret_pw", disableWeb: true }),
  );
  writeFileSync(join(d.data, "smp-server-store.log"), "NEW_SERVICE placeholder\n");
  writeFileSync(join(d.data, "smp-server-messages.log"), "");
  return d;
}

describe.skipIf(!hasOpenssl)("never initialize over an identity", () => {
  test("start on a reference installation refuses, names the files and `smp-server import`, and touches no byte", () => {
    const d = referenceInstallation();
    const before = { cfg: checksums(d.cfg), data: checksums(d.data) };
    const r = run(["start", ...d.flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error: ${d.cfg} holds smp-server.ini, ca.crt, ca.key, server.crt, server.key, fingerprint but no smp-server.toml.`);
    expect(r.stderr).toContain(`  smp-server import --from-config-dir ${d.cfg} --from-data-dir ${d.data} --config-dir ${d.cfg} --data-dir ${d.data}\n`);
    expect(r.all).not.toContain("initializ" + "ing with default settings");
    expect({ cfg: checksums(d.cfg), data: checksums(d.data) }).toEqual(before);

    const i = run(["init", ...d.flags, "--yes"]);
    expect(i.code).toBe(1);
    expect(i.stderr).toContain("Refusing to initialize it");
    expect({ cfg: checksums(d.cfg), data: checksums(d.data) }).toEqual(before);
  });

  test("any one identity file is enough to refuse (here a lone fingerprint)", () => {
    const d = dirs();
    mkdirSync(d.cfg, { recursive: true });
    writeFileSync(join(d.cfg, "fingerprint"), "x\n");
    const r = run(["start", ...d.flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`holds fingerprint but no smp-server.toml`);
    expect(r.stderr).toContain("smp-server delete");
    expect(existsSync(join(d.cfg, "ca.crt"))).toBe(false);
  });

  test("an empty configuration directory is still initialized by start (zero-config)", () => {
    const d = dirs();
    mkdirSync(d.cfg, { recursive: true });
    const r = run(["start", ...d.flags, "--maintenance"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("initializing with default settings");
    expect(existsSync(join(d.cfg, "ca.crt"))).toBe(true);
  });

  test("an Ed448 online certificate without ours: start says how to issue one, and changes nothing", async () => {
    const d = referenceInstallation();
    writeFileSync(join(d.cfg, "smp-server.toml"), convertReferenceIni(readFileSync(join(d.cfg, "smp-server.ini"), "utf8"), join(d.cfg, "smp-server.ini")).toml);
    const before = checksums(d.cfg);
    const r = run(["start", ...d.flags, "--maintenance"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(d.cfg, "server.crt")} is an Ed448 certificate`);
    expect(r.stderr).toContain("smp-server import");
    expect(checksums(d.cfg)).toEqual(before);
    // After the identity import the same directory starts, with the reference's fingerprint
    // (--create-store stands in for the data import, which creates the database).
    await importIdentity(d.cfg, d.cfg, { dryRun: false });
    const ok = run(["start", ...d.flags, "--maintenance", "--create-store"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Fingerprint: ${readFileSync(join(d.cfg, "fingerprint"), "utf8").trim()}`);
    expect(ok.stdout).toContain("Server started in 'maintenance' mode, exiting");
  });
});

describe("the reference's start options", () => {
  test("+RTS … -RTS is ignored (debug log), the reference's flags are accepted; --maintenance opens the database and exits 0", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--no-password"]).code).toBe(0);
    const r = run(["start", "+RTS", "-N", "-A16m", "-RTS", ...d.flags, "--log-level", "debug", "--skip-warnings", "--compact-log", "--confirm-migrations", "up", "-m"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("ignoring GHC runtime options +RTS -N -A16m -RTS");
    expect(r.stderr).toContain("accepted without effect (reference start options): --compact-log, --skip-warnings");
    expect(r.stderr).not.toContain("--confirm-migrations up");
    expect(r.stdout).toContain("Server started in 'maintenance' mode, exiting");
    expect(existsSync(join(d.data, "smp-server.sqlite"))).toBe(true);
    // At the default level the ignored runtime options are not mentioned.
    expect(run(["start", ...d.flags, "+RTS", "-N", "-RTS", "--maintenance"]).stderr).not.toContain("RTS");
  });

  test("the ExecStart arguments of deploy/smp-server.service and of the reference's unit are accepted", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--no-password"]).code).toBe(0);
    const unit = readFileSync(join(ROOT, "deploy/smp-server.service"), "utf8");
    const ours = /^ExecStart=\S+ (.*)$/m.exec(unit)![1].trim().split(/\s+/);
    expect(ours[0]).toBe("start");
    expect(/^KillSignal=(SIGINT|SIGTERM)$/m.test(unit)).toBe(true);
    // simplexmq scripts/main/smp-server.service: ExecStart=/usr/local/bin/smp-server start +RTS -N -RTS
    for (const args of [ours, ["start", "+RTS", "-N", "-RTS"]]) {
      const r = run([...args, ...d.flags, "--maintenance"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Server started in 'maintenance' mode, exiting");
    }
  });

  // Server/CLI.hs:startOptionsP: without --confirm-migrations the reference asks (MCConsole);
  // Agent/Store/Migrations.hs:confirmOrExit reads the answer from stdin, only "y" confirms.
  test("an existing database that needs migrations: asked on stdin by default, upgraded with --confirm-migrations up", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--no-password"]).code).toBe(0);
    const path = join(d.data, "smp-server.sqlite");
    mkdirSync(d.data, { recursive: true });
    const versionOne = (): void => {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
      const old = new Database(path);
      migrate(old, MIGRATIONS.slice(0, 1));
      old.close();
    };
    versionOne();
    const pending = MIGRATIONS.slice(1).map((m) => m.name).join(", ");
    const version = (): number => {
      const db = new Database(path, { readonly: true });
      const v = schemaVersion(db);
      db.close();
      return v;
    };

    const noAnswer = run(["start", ...d.flags, "--maintenance"]);
    expect(noAnswer.code).toBe(1);
    expect(noAnswer.stdout).toContain(`Confirm to upgrade using these migrations: ${pending}`);
    expect(noAnswer.stderr).toContain("--confirm-migrations up");
    expect(version()).toBe(1);

    const answered = (answer: string) =>
      Bun.spawnSync([process.execPath, MAIN, "start", ...d.flags, "--maintenance"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: d.cfg }, stdin: Buffer.from(answer), stdout: "pipe", stderr: "pipe" });
    expect(answered("n\n").exitCode).toBe(1);
    expect(version()).toBe(1);
    const yes = answered("y\n");
    expect(yes.stdout.toString()).toContain("Continue (y/N):");
    expect(yes.exitCode).toBe(0);
    expect(version()).toBe(SCHEMA_VERSION);

    versionOne();
    // `up` upgrades without asking (stdin is not read: it is ignored here).
    const up = run(["start", ...d.flags, "--maintenance", "--confirm-migrations", "up"]);
    expect(up.code).toBe(0);
    expect(up.stdout).not.toContain("Continue");
  });

  test("--confirm-migrations takes only up or down (Server/CLI.hs:parseConfirmMigrations)", () => {
    const d = dirs();
    const r = run(["start", ...d.flags, "--confirm-migrations", "sideways"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("invalid migration confirmation, pass 'up' or 'down'");
  });
});

/**
 * `start` (as the reference's unit runs it) on a port the system just handed out, once the server
 * answers a client: an SMP handshake and PING, which it serves only after start-up has finished
 * (the summary is printed before the listeners bind). Another port if that one was taken meanwhile.
 */
async function startAnswering(d: { cfg: string; data: string; flags: string[] }): Promise<ReturnType<typeof Bun.spawn>> {
  const fp = readFileSync(join(d.cfg, "fingerprint"), "utf8").trim();
  const tomlPath = join(d.cfg, "smp-server.toml");
  for (let attempt = 1; ; attempt++) {
    const port = freePort();
    writeFileSync(tomlPath, readFileSync(tomlPath, "utf8").replace(/^port = .*$/m, `port = [${port}]`));
    const proc = Bun.spawn([process.execPath, MAIN, "start", "+RTS", "-N", "-RTS", ...d.flags], { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    let exited = false;
    void proc.exited.then(() => (exited = true));
    while (!exited) {
      try {
        const c = await SMPClient.connect({ server: `smp://${fp}@127.0.0.1:${port}` });
        await c.ping();
        c.close();
        return proc;
      } catch {
        await Bun.sleep(20);
      }
    }
    const stderr = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
    if (attempt < 3 && stderr.includes("already in use")) continue;
    throw new Error(`the server exited: ${stderr}`);
  }
}

describe("stopping under systemd: KillSignal=SIGINT (the reference's unit) and SIGTERM", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} stops a running server cleanly (exit 0, database closed)`, async () => {
      const d = dirs();
      expect(run(["init", ...d.flags, "--no-password"]).code).toBe(0);
      const proc = await startAnswering(d);
      proc.kill(signal);
      expect(await proc.exited).toBe(0);
      const stderr = await new Response(proc.stderr as ReadableStream<Uint8Array>).text();
      expect(stderr).toContain(`${signal} received, stopping the server`);
      // The database was closed: no WAL file is left behind.
      expect(existsSync(join(d.data, "smp-server.sqlite"))).toBe(true);
      expect(existsSync(join(d.data, "smp-server.sqlite-wal"))).toBe(false);
    });
  }
});
