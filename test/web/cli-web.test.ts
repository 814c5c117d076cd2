// The web side through the executable: `init --web-cert self-signed`, the address QR code, and
// `start` on a port shared by SMP and HTTPS — with the certificate (pages served) and without it
// (one warning, SMP unaffected).
import { describe, expect, test } from "bun:test";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, MAIN, ROOT } from "../fixtures/run-cli.ts";
import { tempDirs } from "../fixtures/temp-dirs.ts";
import { sendMsgRoundTrip } from "./fixtures.ts";

const ZBARIMG = Bun.which("zbarimg");
const tempDir = tempDirs("smp-cli-web-");

function paths(): { cfg: string; data: string; flags: string[] } {
  const base = tempDir();
  return { cfg: join(base, "etc"), data: join(base, "var"), flags: ["--config-dir", join(base, "etc"), "--data-dir", join(base, "var")] };
}

function run(args: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([process.execPath, MAIN, ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

/** Resolves once something accepts TCP connections on the port (the server prints before it listens). */
async function listening(port: number): Promise<void> {
  for (;;) {
    const ok = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (ok) return;
    await Bun.sleep(20);
  }
}

/** `start` in the background; resolves once its output matched `ready` and the port accepts connections. */
async function startServer(flags: string[], ready: RegExp, port: number): Promise<{ proc: Subprocess; out: () => string }> {
  const proc = Bun.spawn([process.execPath, MAIN, "start", ...flags], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) out += dec.decode(chunk);
  };
  void pump(proc.stdout as ReadableStream<Uint8Array>);
  void pump(proc.stderr as ReadableStream<Uint8Array>);
  while (!ready.test(out)) {
    if (proc.exitCode !== null) throw new Error(`start exited: ${out}`);
    await Bun.sleep(20);
  }
  await listening(port);
  return { proc, out: () => out };
}

/** The QR code of the terminal text as a PBM image (light = the drawn half blocks), 4 px a module. */
function qrTextToPbm(qr: string): string {
  const rows: number[][] = [];
  for (const line of qr.split("\n")) {
    const top: number[] = [];
    const bottom: number[] = [];
    for (const ch of line) {
      top.push(ch === "█" || ch === "▀" ? 0 : 1);
      bottom.push(ch === "█" || ch === "▄" ? 0 : 1);
    }
    rows.push(top, bottom);
  }
  const scale = 4;
  let pbm = `P1\n${rows[0]!.length * scale} ${rows.length * scale}\n`;
  for (const r of rows) {
    const line = r.flatMap((p) => new Array(scale).fill(p)).join(" ");
    for (let i = 0; i < scale; i++) pbm += line + "\n";
  }
  return pbm;
}

function httpsGet(port: number, path: string): Promise<{ status: number; body: string; cert: X509Certificate }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port, path, servername: "localhost", rejectUnauthorized: false, agent: false }, (res) => {
        const cert = new X509Certificate((res.socket as import("node:tls").TLSSocket).getPeerCertificate().raw);
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode!, body, cert }));
      })
      .on("error", reject);
  });
}

const line = (out: string, prefix: string) => out.split("\n").find((l) => l.startsWith(prefix))?.slice(prefix.length);

describe("init --web-cert self-signed, then start on a shared port", () => {
  const d = paths();
  const port = freePort();
  let initOut = "";

  test("init writes an ECDSA web certificate for the host and shares the SMP port for HTTPS", () => {
    const r = run(["init", ...d.flags, "--fqdn", "localhost", "--port", String(port), "--no-password", "--source-code", "https://example.com/src", "--operator", "<b>Op</b>", "--web-cert", "self-signed"]);
    expect(r.code).toBe(0);
    initOut = r.out;
    const cert = new X509Certificate(readFileSync(join(d.cfg, "web.crt")));
    expect(cert.publicKey.asymmetricKeyType).toBe("ec");
    expect(cert.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1");
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(d.cfg, "web.key"))))).toBe(true);
    expect(statSync(join(d.cfg, "web.key")).mode & 0o777).toBe(0o600);
    const toml = readFileSync(join(d.cfg, "smp-server.toml"), "utf8");
    expect(toml).toContain(`\nhttps = ${port}\ncert = "${join(d.cfg, "web.crt")}"\nkey = "${join(d.cfg, "web.key")}"\n`);
    expect(toml).toContain(`\nstatic_path = "${join(d.data, "www")}"\n`);
  });

  test("the printed address is also a QR code that decodes to it", async () => {
    const address = line(initOut, "Server address: ")!;
    expect(address).toStartWith("smp://");
    const lines = initOut.split("\n");
    const at = lines.findIndex((l) => l.startsWith("Server address: "));
    const qr = lines.slice(at + 1).filter((l, i, all) => /^[█▀▄ ]+$/.test(l) && all.slice(0, i).every((p) => /^[█▀▄ ]+$/.test(p)));
    expect(qr.length).toBeGreaterThan(10);
    if (ZBARIMG === null) {
      if (process.env.CI === "true") throw new Error("zbarimg is missing in CI (apt-get install zbar-tools)");
      console.warn("skipped: no zbarimg, the QR code is not decoded");
      return;
    }
    const pbm = join(d.cfg, "..", "qr.pbm");
    writeFileSync(pbm, qrTextToPbm(qr.join("\n")));
    const z = Bun.spawnSync([ZBARIMG, "--raw", "-q", pbm], { stdout: "pipe", stderr: "pipe" });
    expect(z.stdout.toString().trim()).toBe(address);
  });

  test("start serves the pages over HTTPS on the SMP port (SNI) and SMP on the same port", async () => {
    const s = await startServer(d.flags, /Serving static site on port \d+ \(TLS, shared with SMP/, port);
    try {
      expect(s.out()).not.toContain("Warning: cannot");
      // start prints the address; its QR code only on a terminal (stdout is a pipe here)
      const lines = s.out().split("\n");
      const at = lines.findIndex((l) => l.startsWith("Server address: "));
      expect(at).toBeGreaterThanOrEqual(0);
      expect(s.out()).not.toContain("█");
      const page = await httpsGet(port, "/");
      expect(page.status).toBe(200);
      expect(page.body).toContain("<th>Operator:</th><td>&lt;b&gt;Op&lt;/b&gt;</td>");
      expect(page.cert.raw.equals(new X509Certificate(readFileSync(join(d.cfg, "web.crt"))).raw)).toBe(true);
      // The address on the page is the one clients use (no password was set).
      const fp = line(s.out(), "Fingerprint: ")!;
      expect(page.body).toContain(`smp://${fp}@localhost:${port}</code>`);
      await sendMsgRoundTrip({ address: `smp://${fp}@127.0.0.1:${port}` }, "hi");
      expect(readFileSync(join(d.data, "www", "a", "index.html"), "utf8")).toContain("media/link.js");
    } finally {
      s.proc.kill("SIGTERM");
      await s.proc.exited;
    }
  });

  test("start on a terminal also draws the address as a QR code", async () => {
    const { start } = await import("../../src/cli/start.ts");
    const { resolvePaths } = await import("../../src/cli/paths.ts");
    const out: string[] = [];
    const server = await start(resolvePaths({ configDir: d.cfg, dataDir: d.data }), { logLevel: "warn", isRoot: false, stdoutIsTTY: true }, (l) => out.push(l));
    try {
      // one out() call carries the whole drawing, of start's address (with the port: not 5223)
      const at = out.findIndex((l) => l.startsWith("Server address: "));
      expect(out[at]).toEndWith(`@localhost:${port}`);
      const qr = out[at + 1]!;
      expect(qr.split("\n").length).toBeGreaterThan(10);
      expect(qr).toMatch(/^[█▀▄ \n]+$/);
    } finally {
      await server?.close();
    }
  });

  test("--web-cert takes only self-signed, and not with --disable-web", () => {
    const d2 = paths();
    const bad = run(["init", ...d2.flags, "--web-cert", "letsencrypt"]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('--web-cert: expected "self-signed"');
    const both = run(["init", ...d2.flags, "--web-cert", "self-signed", "--disable-web"]);
    expect(both.code).toBe(1);
    expect(both.out).toContain("--web-cert cannot be used with --disable-web");
    expect(existsSync(join(d2.cfg, "smp-server.toml"))).toBe(false);
  });

  test("--disable-web leaves https commented out", () => {
    const d2 = paths();
    expect(run(["init", ...d2.flags, "--port", "5223", "--disable-web"]).code).toBe(0);
    const toml = readFileSync(join(d2.cfg, "smp-server.toml"), "utf8");
    expect(toml).toContain("\n# https = 443\n");
    expect(toml).not.toMatch(/^https =/m);
  });

  test("an existing web certificate is never replaced by --web-cert", () => {
    const d2 = paths();
    // Only the web certificate is there (init refuses any directory that holds server keys).
    mkdirSync(d2.cfg, { recursive: true });
    writeFileSync(join(d2.cfg, "web.crt"), "operator's own certificate");
    const r = run(["init", ...d2.flags, "--port", String(freePort()), "--web-cert", "self-signed"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${join(d2.cfg, "web.crt")} already exists`);
    expect(readFileSync(join(d2.cfg, "web.crt"), "utf8")).toBe("operator's own certificate");
  });
});

describe("start without the web certificate", () => {
  test("one warning naming both files; SMP serves on the shared port", async () => {
    const d = paths();
    const port = freePort();
    expect(run(["init", ...d.flags, "--port", String(port), "--no-password"]).code).toBe(0);
    expect(existsSync(join(d.cfg, "web.crt"))).toBe(false);
    const s = await startServer(d.flags, /Warning: cannot read the web certificate/, port);
    try {
      const warnings = s.out().split("\n").filter((l) => l.includes("web certificate"));
      expect(warnings.length).toBe(1);
      expect(warnings[0]).toStartWith(`Warning: cannot read the web certificate ${join(d.cfg, "web.crt")} / key ${join(d.cfg, "web.key")}: `);
      expect(warnings[0]).toContain(`the web site is not served over HTTPS on port ${port} (SMP on that port is not affected)`);
      const fp = line(s.out(), "Fingerprint: ")!;
      await sendMsgRoundTrip({ address: `smp://${fp}@127.0.0.1:${port}` }, "hi");
    } finally {
      s.proc.kill("SIGTERM");
      await s.proc.exited;
    }
  });
});
