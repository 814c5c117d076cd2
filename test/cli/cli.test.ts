/**
 * The smp-server executable end to end (spawned as `bun src/cli/main.ts …` with temporary
 * --config-dir/--data-dir). Expected texts follow Server/Main.hs and Server/CLI.hs.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { base64url } from "../../src/encoding/base64.ts";
import { sha256 } from "../../src/crypto/digest.ts";
import { pemToDer } from "../../src/crypto/x509/certificate.ts";
import { parseServerStr } from "../../src/protocol/server-address.ts";
import pkg from "../../package.json";
import { DB_FILE } from "../../src/server/index.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import { newQueue } from "../store/helpers.ts";
import { dropTestSchemas, testPostgresUri, testSchemaName } from "../store/postgres.ts";
import { runCli, type Run } from "../fixtures/run-cli.ts";

const OPENSSL = "/usr/bin/openssl";
const hasOpenssl = existsSync(OPENSSL);
if (!hasOpenssl) console.warn(`SKIP: ${OPENSSL} not found, openssl chain checks are skipped`);
const isRoot = process.getuid?.() === 0;

const run = runCli;

function dirs(): { cfg: string; data: string; flags: string[] } {
  const base = mkdtempSync(join(tmpdir(), "smp-cli-"));
  const cfg = join(base, "etc");
  const data = join(base, "var");
  return { cfg, data, flags: ["--config-dir", cfg, "--data-dir", data] };
}

const mode = (p: string) => statSync(p).mode & 0o777;
const caFingerprint = (cfg: string) => sha256(pemToDer(readFileSync(join(cfg, "ca.crt"), "utf8")));
const line = (out: string, prefix: string) => out.split("\n").find((l) => l.startsWith(prefix))?.slice(prefix.length);

function openssl(...args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([OPENSSL, ...args], { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

test("--version prints the product version and the SMP version range 6-20 (Server/Main.hs smpServerVRange)", () => {
  const r = run(["--version"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(`SMP server v${pkg.version}\nSMP versions 6-20\n`);
  expect(run(["-v"]).stdout).toBe(r.stdout);
});

test("help: no command shows usage and fails; unknown commands fail; each verb has --help", () => {
  const none = run([]);
  expect(none.code).toBe(1);
  expect(none.stdout).toContain("Usage: smp-server COMMAND");
  expect(run(["--help"]).code).toBe(0);
  const bad = run(["frobnicate"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("Invalid command: frobnicate");
  for (const verb of ["init", "start", "delete", "cert"]) {
    const h = run([verb, "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain(`Usage: smp-server ${verb} [OPTIONS]`);
  }
  const unknownOpt = run(["init", "--frob"]);
  expect(unknownOpt.code).toBe(1);
  expect(unknownOpt.stderr).toContain("unknown option: --frob");
});

describe("init", () => {
  const d = dirs();
  let r: Run;
  beforeAll(() => {
    r = run(["init", ...d.flags, "-n", "smp.example.com", "--yes"]);
  });

  test("succeeds and creates the reference's files with private keys 0600 and the config dir 0700", () => {
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const f of ["ca.key", "ca.crt", "server.key", "server.crt", "fingerprint", "smp-server.toml"]) expect(existsSync(join(d.cfg, f))).toBe(true);
    expect(mode(join(d.cfg, "ca.key"))).toBe(0o600);
    expect(mode(join(d.cfg, "server.key"))).toBe(0o600);
    expect(mode(join(d.cfg, "smp-server.toml"))).toBe(0o600); // holds create_password
    expect(mode(d.cfg)).toBe(0o700);
    expect(statSync(d.data).isDirectory()).toBe(true);
  });

  test("fingerprint file = base64url(SHA-256(ca.crt DER)) + newline (Server/CLI.hs:saveFingerprint)", () => {
    const fp = caFingerprint(d.cfg);
    expect(readFileSync(join(d.cfg, "fingerprint"), "utf8")).toBe(base64url(fp) + "\n");
    expect(line(r.stdout, "Fingerprint: ")).toBe(base64url(fp));
  });

  test("address is smp://<fp>:<password>@<fqdn> with the random 32-byte password from the config", () => {
    const toml = readFileSync(join(d.cfg, "smp-server.toml"), "utf8");
    const password = /^create_password = "([^"]+)"$/m.exec(toml)?.[1];
    expect(password).toBeDefined();
    expect(Buffer.from(password!, "base64url").length).toBe(32);
    const address = line(r.stdout, "Server address: ")!;
    expect(address).toBe(`smp://${base64url(caFingerprint(d.cfg))}:${password}@smp.example.com`);
    const parsed = parseServerStr(address); // Protocol.hs:serverStrP
    expect(parsed.server.hosts).toEqual(["smp.example.com"]);
    expect(parsed.server.port).toBe("");
    expect(Buffer.from(parsed.server.keyHash).equals(Buffer.from(caFingerprint(d.cfg)))).toBe(true);
  });

  test("prints the reference's init messages", () => {
    expect(r.stdout).toContain(`Server initialized, please provide additional server information in ${join(d.cfg, "smp-server.toml")}.`);
    expect(r.stdout).toContain("Run `smp-server start` to start server.");
    expect(r.stdout).toContain(`You should store CA private key securely and delete it from the server.`);
    expect(r.stdout).toContain(`CA private key location:\n${join(d.cfg, "ca.key")}\n`);
    expect(r.stdout).toContain("Warning: server source code is not specified.");
  });

  test("server certificate CN is the FQDN; ports default by privilege", () => {
    const crt = new X509Certificate(readFileSync(join(d.cfg, "server.crt")));
    expect(crt.subject).toBe("CN=smp.example.com");
    const toml = readFileSync(join(d.cfg, "smp-server.toml"), "utf8");
    expect(toml).toContain(isRoot ? "port = [5223, 443]" : "port = [5223]");
    expect(r.stdout.includes("binding port 443 needs root")).toBe(!isRoot);
  });

  test.skipIf(!hasOpenssl)("openssl verifies the chain", () => {
    const v = openssl("verify", "-x509_strict", "-CAfile", join(d.cfg, "ca.crt"), join(d.cfg, "server.crt"));
    expect(v.code).toBe(0);
  });

  test("refuses an initialized directory", () => {
    const caBefore = readFileSync(join(d.cfg, "ca.crt"), "utf8");
    const tomlBefore = readFileSync(join(d.cfg, "smp-server.toml"), "utf8");
    const again = run(["init", ...d.flags, "-y"]);
    expect(again.code).not.toBe(0);
    expect(again.all).toContain(`Error: server is already initialized (${join(d.cfg, "smp-server.toml")} exists).`);
    expect(readFileSync(join(d.cfg, "ca.crt"), "utf8")).toBe(caBefore);
    expect(readFileSync(join(d.cfg, "smp-server.toml"), "utf8")).toBe(tomlBefore);
  });
});

describe("init options", () => {
  test("--no-password --ip: no password in the address or config, CN = IP, explicit ports", () => {
    const d = dirs();
    const r = run(["init", ...d.flags, "--no-password", "--ip", "10.1.2.3", "--port", "7000,7001", "--disable-store-log"]);
    expect(r.code).toBe(0);
    expect(line(r.stdout, "Server address: ")).toBe(`smp://${base64url(caFingerprint(d.cfg))}@10.1.2.3`);
    const toml = readFileSync(join(d.cfg, "smp-server.toml"), "utf8");
    expect(toml).toMatch(/^# create_password = /m);
    expect(toml).toContain("port = [7000, 7001]");
    expect(toml).toContain("enable = false");
    expect(new X509Certificate(readFileSync(join(d.cfg, "server.crt"))).subject).toBe("CN=10.1.2.3");
  });

  test("default ip 127.0.0.1 prints the <hostnames> placeholder (Server/Main.hs:initialize); --password is used verbatim", () => {
    const d = dirs();
    const r = run(["init", ...d.flags, "--password", "s3cret"]);
    expect(r.code).toBe(0);
    expect(line(r.stdout, "Server address: ")).toBe(`smp://${base64url(caFingerprint(d.cfg))}:s3cret@<hostnames>`);
    expect(new X509Certificate(readFileSync(join(d.cfg, "server.crt"))).subject).toBe("CN=127.0.0.1");
  });

  test("bad option values fail before anything is written", () => {
    const d = dirs();
    for (const args of [["--password", "a@b"], ["--port", "0"], ["--sign-algorithm", "ED448"], ["--operator", "x"], ["--password", "x", "--no-password"]]) {
      const r = run(["init", ...d.flags, ...args]);
      expect(r.code).toBe(1);
      expect(existsSync(join(d.cfg, "smp-server.toml"))).toBe(false);
    }
    expect(run(["init", ...d.flags, "--operator", "x"]).all).toContain("requires passing --source-code");
  });
});

describe("cert", () => {
  test("regenerates server.key/crt with the same CA; fingerprint unchanged; CN kept unless --cn", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "-n", "a.example.com"]).code).toBe(0);
    const fp = readFileSync(join(d.cfg, "fingerprint"), "utf8");
    const before = readFileSync(join(d.cfg, "server.crt"), "utf8");
    const r = run(["cert", ...d.flags]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Generated new server credentials");
    const after = readFileSync(join(d.cfg, "server.crt"), "utf8");
    expect(after).not.toBe(before);
    expect(new X509Certificate(after).subject).toBe("CN=a.example.com");
    expect(new X509Certificate(after).verify(new X509Certificate(readFileSync(join(d.cfg, "ca.crt"))).publicKey)).toBe(true);
    expect(readFileSync(join(d.cfg, "fingerprint"), "utf8")).toBe(fp);
    expect(mode(join(d.cfg, "server.key"))).toBe(0o600);
    expect(run(["cert", ...d.flags, "--cn", "b.example.com"]).code).toBe(0);
    expect(new X509Certificate(readFileSync(join(d.cfg, "server.crt"))).subject).toBe("CN=b.example.com");
  });

  test.skipIf(!hasOpenssl)("openssl verifies the regenerated certificate against the kept CA", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "-n", "a.example.com"]).code).toBe(0);
    expect(run(["cert", ...d.flags, "--cn", "b.example.com"]).code).toBe(0);
    expect(openssl("verify", "-CAfile", join(d.cfg, "ca.crt"), join(d.cfg, "server.crt")).code).toBe(0);
  });

  test("refuses an uninitialized directory", () => {
    const d = dirs();
    const r = run(["cert", ...d.flags]);
    expect(r.code).toBe(1);
    expect(r.all).toContain("server is not initialized");
  });
});

describe("start (checks before the server runs)", () => {
  const d = dirs();
  let toml = "";
  beforeAll(() => {
    expect(run(["init", ...d.flags]).code).toBe(0);
    toml = readFileSync(join(d.cfg, "smp-server.toml"), "utf8");
  });
  const file = () => join(d.cfg, "smp-server.toml");

  const cases: [string, (t: string) => string, string, string][] = [
    ["unknown section", (t) => t + "\n[FOO]\nx = 1\n", "[FOO]", "unknown section"],
    ["unknown key", (t) => t.replace("[TRANSPORT]\n", "[TRANSPORT]\nfoo = 1\n"), "[TRANSPORT] foo", "unknown key"],
    ["wrong type", (t) => t.replace(/^expire_messages_days = 21$/m, 'expire_messages_days = "21"'), "[STORE_LOG] expire_messages_days", 'expected an integer, got string "21"'],
    ["port out of range", (t) => t.replace(/^port = \[.*\]$/m, "port = [5223, 65536]"), "[TRANSPORT] port", "must be between 1 and 65535, got 65536"],
    ["missing ttl", (t) => t.replace(/^ttl = 21600$/m, ""), "[INACTIVE_CLIENTS] ttl", "required when disconnect = true"],
  ];
  for (const [name, edit, where, reason] of cases) {
    test(`config error: ${name} → non-zero exit naming file, key and reason`, () => {
      const edited = edit(toml);
      expect(edited).not.toBe(toml);
      writeFileSync(file(), edited);
      const r = run(["start", ...d.flags]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${file()}: ${where}: ${reason}`);
    });
  }

  test("invalid --log-level fails", () => {
    const r = run(["start", ...d.flags, "--log-level", "loud"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Invalid log level");
  });

  test('"Stored fingerprint is invalid." when fingerprint does not match ca.crt (Server/CLI.hs:checkSavedFingerprint)', () => {
    writeFileSync(file(), toml);
    const fpFile = join(d.cfg, "fingerprint");
    const saved = readFileSync(fpFile, "utf8");
    writeFileSync(fpFile, base64url(new Uint8Array(32)) + "\n");
    try {
      const r = run(["start", ...d.flags]);
      expect(r.code).toBe(1);
      expect(r.all).toContain("Stored fingerprint is invalid.");
      // Both files and both values are named (issue 14).
      expect(r.all).toContain(`${fpFile} holds "${base64url(new Uint8Array(32))}", but the fingerprint of ${join(d.cfg, "ca.crt")}`);
      expect(r.all).toContain(saved.trim());
    } finally {
      writeFileSync(fpFile, saved);
    }
  });
});

describe("start failures are one clear line and exit 1", () => {
  test("a port already in use", () => {
    const d = dirs();
    const busy = Bun.listen({ hostname: "0.0.0.0", port: 0, socket: { data() {} } });
    try {
      expect(run(["init", ...d.flags, "--port", String(busy.port), "--no-password"]).code).toBe(0);
      const r = run(["start", ...d.flags]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`Error: cannot listen on port ${busy.port} (::): the address is already in use`);
      expect(r.stderr).not.toContain("    at ");
    } finally {
      busy.stop(true);
    }
  });

  test("a data directory the store cannot use", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--port", "1", "--no-password"]).code).toBe(0);
    // A regular file where the data directory should be: the database is not there.
    rmSync(d.data, { recursive: true, force: true });
    writeFileSync(d.data, "not a directory");
    const r = run(["start", ...d.flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: (cannot use the database in|the server could not start|the server is initialized .* but its database .* does not exist)/m);
    expect(r.stderr).not.toContain("    at ");
  });

  test("PostgreSQL unreachable: the URI without its password, exit 1", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--port", "1", "--no-password"]).code).toBe(0);
    const file = join(d.cfg, "smp-server.toml");
    // Port 1 on 127.0.0.1: nothing listens there, the connection is refused at once.
    writeFileSync(file, readFileSync(file, "utf8").replace("[STORE_LOG]\n", '[STORE_LOG]\ndb_connection = "postgresql://smp:s3cret@127.0.0.1:1/smp"\n'));
    const r = run(["start", ...d.flags]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: cannot use the PostgreSQL database: .*postgresql:\/\/smp:\*\*\*@127\.0\.0\.1:1\/smp/m);
    expect(r.all).not.toContain("s3cret");
    expect(r.stderr).not.toContain("    at ");
  });
});

describe("delete", () => {
  test("without --yes and without a terminal: refuses and keeps everything", () => {
    const d = dirs();
    expect(run(["init", ...d.flags]).code).toBe(0);
    const r = run(["delete", ...d.flags]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("stdin is not a terminal");
    expect(existsSync(join(d.cfg, "ca.key"))).toBe(true);
    expect(existsSync(d.data)).toBe(true);
  });

  test("--yes removes the configuration and data directories", () => {
    const d = dirs();
    expect(run(["init", ...d.flags]).code).toBe(0);
    writeFileSync(join(d.data, "some.db"), "x");
    const r = run(["delete", ...d.flags, "--yes"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Deleted configuration and log files");
    expect(existsSync(d.cfg)).toBe(false);
    expect(existsSync(d.data)).toBe(false);
  });

  test("refuses a directory that is not an smp-server configuration", () => {
    const d = dirs();
    mkdirSync(d.cfg, { recursive: true });
    writeFileSync(join(d.cfg, "unrelated.txt"), "keep me");
    const r = run(["delete", ...d.flags, "-y"]);
    expect(r.code).not.toBe(0);
    expect(readFileSync(join(d.cfg, "unrelated.txt"), "utf8")).toBe("keep me");
  });
});

test("SMP_SERVER_CFG_PATH / SMP_SERVER_LOG_PATH select the directories when no flags are given", () => {
  const d = dirs();
  const r = run(["init", "--no-password"], { SMP_SERVER_CFG_PATH: d.cfg, SMP_SERVER_LOG_PATH: d.data });
  expect(r.code).toBe(0);
  expect(existsSync(join(d.cfg, "smp-server.toml"))).toBe(true);
  expect(existsSync(d.data)).toBe(true);
});

describe("database import|export", () => {
  test("needs a sub-command and db_connection", () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--no-password"]).code).toBe(0);
    const none = run(["database", ...d.flags]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("expected `database import` or `database export`");
    const noPg = run(["database", "import", ...d.flags]);
    expect(noPg.code).toBe(1);
    expect(noPg.stderr).toContain("db_connection is not set");
  });

  const pgUri = testPostgresUri();
  test.skipIf(pgUri === null)("import copies the SQLite database to PostgreSQL and prints the counts; again: nothing to do", async () => {
    const d = dirs();
    expect(run(["init", ...d.flags, "--no-password"]).code).toBe(0);
    const s = openSqliteStore({ path: join(d.data, DB_FILE) });
    for (let i = 0; i < 3; i++) await s.queues.createQueue(newQueue());
    await s.close();
    const schema = testSchemaName();
    try {
      const file = join(d.cfg, "smp-server.toml");
      writeFileSync(file, readFileSync(file, "utf8").replace("[STORE_LOG]\n", `[STORE_LOG]\ndb_connection = "${pgUri}"\ndb_schema = "${schema}"\n`));
      const r = run(["database", "import", ...d.flags]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`schema ${schema}: queues 3, messages 0, ntfs 0, services 0, blobs 0.`);
      expect(r.stdout).toContain(":***@");
      expect(r.all).not.toContain(`:${new URL(pgUri!).password}@`);
      const again = run(["database", "import", ...d.flags]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("Nothing to do");
      const exp = run(["database", "export", ...d.flags]);
      expect(exp.code).toBe(0);
      expect(exp.stdout).toContain("Nothing to do");
    } finally {
      await dropTestSchemas(pgUri!, [schema]);
    }
  });
});
