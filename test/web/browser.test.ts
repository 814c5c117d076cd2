// A real browser (Debian's chromium, headless, driven over the DevTools protocol) opens short-link
// pages: the page must render the QR code (an SVG of non-trivial size) without console errors,
// point the app button at the right simplex: URI, and the QR code in its screenshot must decode
// (zbarimg) to the link. Skipped with a message when chromium is not installed, except in CI.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startWeb, type RunningWeb } from "../../src/web/server.ts";
import { generateWebCertificate } from "../../src/crypto/x509/web-certificate.ts";
import { startTestServer, testOptions, type TestServer } from "../server/harness.ts";
import { EVIL, sendMsgRoundTrip, siteInput } from "./fixtures.ts";

const CHROMIUM = Bun.which("chromium") ?? Bun.which("chromium-browser");
const ZBARIMG = Bun.which("zbarimg");
const IN_CI = process.env.CI === "true";
if (CHROMIUM === null) console.warn(IN_CI ? "chromium is missing in CI" : "skipped: no chromium (apt-get install chromium)");

/** One DevTools session on a fresh page, with the console errors and exceptions it reported. */
class Page {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private readonly waiters: { method: string; resolve: (p: any) => void }[] = [];
  readonly errors: string[] = [];
  private sessionId = "";

  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (ev) => this.onMessage(JSON.parse(String(ev.data))));
  }

  static async open(wsUrl: string): Promise<Page> {
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve, { once: true });
      ws.addEventListener("error", () => reject(new Error("DevTools websocket failed")), { once: true });
    });
    const p = new Page(ws);
    const { targetId } = await p.send("Target.createTarget", { url: "about:blank" }, false);
    p.sessionId = (await p.send("Target.attachToTarget", { targetId, flatten: true }, false)).sessionId;
    await p.send("Runtime.enable");
    await p.send("Log.enable");
    await p.send("Page.enable");
    await p.send("Emulation.setDeviceMetricsOverride", { width: 1100, height: 900, deviceScaleFactor: 1, mobile: false });
    return p;
  }

  private onMessage(m: any): void {
    if (m.id !== undefined) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(`${m.error.message} ${m.error.data ?? ""}`));
      else p?.resolve(m.result);
      return;
    }
    if (m.method === "Runtime.exceptionThrown") this.errors.push(`exception: ${m.params.exceptionDetails.exception?.description ?? m.params.exceptionDetails.text}`);
    if (m.method === "Runtime.consoleAPICalled" && (m.params.type === "error" || m.params.type === "assert"))
      this.errors.push(`console.${m.params.type}: ${m.params.args.map((a: any) => a.value ?? a.description).join(" ")}`);
    if (m.method === "Log.entryAdded" && m.params.entry.level === "error") this.errors.push(`log: ${m.params.entry.text} ${m.params.entry.url ?? ""}`);
    for (let i = 0; i < this.waiters.length; i++) {
      if (this.waiters[i]!.method === m.method) {
        this.waiters.splice(i, 1)[0]!.resolve(m.params);
        i--;
      }
    }
  }

  send(method: string, params: object = {}, inSession = true): Promise<any> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, params, ...(inSession && { sessionId: this.sessionId }) }));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  event(method: string): Promise<any> {
    return new Promise((resolve) => this.waiters.push({ method, resolve }));
  }

  async goto(url: string): Promise<void> {
    const loaded = this.event("Page.loadEventFired");
    await this.send("Page.navigate", { url });
    await loaded;
  }

  async eval<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  close(): void {
    this.ws.close();
  }
}

describe.skipIf(CHROMIUM === null && !IN_CI)("the pages in headless chromium", () => {
  let dir: string;
  let web: RunningWeb;
  let sharedWeb: RunningWeb;
  let smp: TestServer;
  let chromium: Subprocess | undefined;
  let wsUrl: string;

  beforeAll(async () => {
    if (CHROMIUM === null) throw new Error("chromium is required in CI (.ci/run installs it)");
    dir = mkdtempSync(join(tmpdir(), "smp-browser-"));
    web = startWeb({ staticPath: join(dir, "www"), http: 0, bindHost: "127.0.0.1", smpPorts: [], site: siteInput() });
    // The same site behind an SMP port: the browser reaches it by host name, so it sends SNI.
    const c = generateWebCertificate(["smp.test"]);
    writeFileSync(join(dir, "web.crt"), c.pem);
    writeFileSync(join(dir, "web.key"), c.keyPem);
    sharedWeb = startWeb({ staticPath: join(dir, "www"), https: { port: 0, cert: join(dir, "web.crt"), key: join(dir, "web.key") }, bindHost: "127.0.0.1", smpPorts: [0], site: siteInput() });
    smp = await startTestServer({ transport: { ...testOptions().transport, web: sharedWeb.shared } });
    chromium = Bun.spawn(
      [CHROMIUM, "--headless=new", "--no-sandbox", "--ignore-certificate-errors", "--host-resolver-rules=MAP smp.test 127.0.0.1", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions", "--disable-background-networking", "--remote-debugging-port=0", `--user-data-dir=${join(dir, "profile")}`, "about:blank"],
      { stdout: "ignore", stderr: "pipe" },
    );
    let err = "";
    const dec = new TextDecoder();
    for await (const chunk of chromium.stderr as ReadableStream<Uint8Array>) {
      err += dec.decode(chunk);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) {
        wsUrl = m[1]!;
        break;
      }
    }
    if (wsUrl === undefined) throw new Error(`chromium did not start: ${err}`);
  });

  afterAll(async () => {
    chromium?.kill();
    await chromium?.exited;
    web?.stop();
    sharedWeb?.stop();
    await smp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // A short contact link (/a: the server's host is added as h=) and a full one (/contact: as is).
  const cases = [
    { path: "/a", fragment: "#J9ds8nU1nJz3rR2Y6lqtWg0pQ0M8bLw4XvJ4sN0cRpE", short: true },
    { path: "/contact", fragment: "#/?v=2-7&smp=smp%3A%2F%2Fabc%3D%40smp.example.com%2Fq1%23%2F%3Fv%3D1-4%26dh%3DMCow", short: false },
  ];
  for (const c of cases) {
    test(`${c.path}: QR code drawn, app link set, no console errors; the screenshot's QR decodes to the link`, async () => {
      const port = web.httpPort!;
      const page = await Page.open(wsUrl);
      try {
        await page.goto(`http://127.0.0.1:${port}${c.path}${c.fragment}`);
        const r = await page.eval<{ w: number; h: number; cells: number; link: string; app: string; appHidden: boolean }>(`(() => {
          const svg = document.querySelector("#qr svg");
          const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
          const d = svg ? svg.querySelector("path").getAttribute("d") : "";
          const app = document.getElementById("open-app");
          return { w: box.width, h: box.height, cells: (d.match(/M/g) || []).length,
                   link: document.getElementById("conn-link").textContent,
                   app: app.getAttribute("href"), appHidden: app.classList.contains("hidden") };
        })()`);
        expect(page.errors).toEqual([]);
        expect(r.w).toBeGreaterThanOrEqual(200);
        expect(r.h).toBeGreaterThanOrEqual(200);
        expect(r.cells).toBeGreaterThan(100); // dark modules of a real QR code
        // media/contact.js: the page's own link as https, and the app URI for the simplex: scheme
        const link = `https://127.0.0.1:${port}${c.path}${c.fragment}`;
        expect(r.link).toBe(link);
        expect(r.app).toBe(`simplex:${c.path}${c.fragment}${c.short ? "?h=127.0.0.1" : ""}`);
        expect(r.appHidden).toBe(false);

        const shot = await page.send("Page.captureScreenshot", { format: "png" });
        const png = join(dir, `${c.path.slice(1)}.png`);
        writeFileSync(png, Buffer.from(shot.data, "base64"));
        if (process.env.SMP_WEB_SCREENSHOT_DIR) writeFileSync(join(process.env.SMP_WEB_SCREENSHOT_DIR, `${c.path.slice(1)}.png`), Buffer.from(shot.data, "base64"));
        if (ZBARIMG === null) {
          if (IN_CI) throw new Error("zbarimg is missing in CI (apt-get install zbar-tools)");
          console.warn("skipped: no zbarimg, the screenshot's QR code is not decoded");
          return;
        }
        const z = Bun.spawnSync([ZBARIMG, "--raw", "-q", png], { stdout: "pipe", stderr: "pipe" });
        expect(z.stdout.toString().trim()).toBe(link);
      } finally {
        page.close();
      }
    });
  }

  test("on the SMP port (SNI): the information page shows configured text as text, the link page its QR code; SMP still serves", async () => {
    const page = await Page.open(wsUrl);
    try {
      await page.goto(`https://smp.test:${smp.port}/`);
      const info = await page.eval<{ operator: string; scripts: number }>(`({
        operator: [...document.querySelectorAll("th")].find((th) => th.textContent === "Operator:").nextElementSibling.textContent,
        scripts: document.scripts.length })`);
      expect(info).toEqual({ operator: `${EVIL} (CH)`, scripts: 0 });
      await page.goto(`https://smp.test:${smp.port}/i#/?v=2-7&smp=abc`);
      const qr = await page.eval<{ w: number; link: string }>(
        `({ w: document.querySelector("#qr svg").getBoundingClientRect().width, link: document.getElementById("conn-link").textContent })`,
      );
      expect(page.errors).toEqual([]);
      expect(qr.w).toBeGreaterThanOrEqual(200);
      expect(qr.link).toBe(`https://smp.test:${smp.port}/i#/?v=2-7&smp=abc`);
    } finally {
      page.close();
    }
    await sendMsgRoundTrip(smp, "after the browser");
  });

  test("a link page without a fragment explains that the link is incomplete, without errors", async () => {
    const page = await Page.open(wsUrl);
    try {
      await page.goto(`http://127.0.0.1:${web.httpPort!}/i`);
      const r = await page.eval<{ missing: boolean; qr: boolean }>(
        `({ missing: !document.getElementById("no-link").classList.contains("hidden"), qr: !!document.querySelector("#qr svg") })`,
      );
      expect(page.errors).toEqual([]);
      expect(r).toEqual({ missing: true, qr: false });
    } finally {
      page.close();
    }
  });
});
