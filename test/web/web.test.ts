// The web site served for real: plain HTTP, HTTPS on its own port, and HTTPS on an SMP port shared
// by SNI (Server.hs:smpServer.runServer) — every page fetched with real HTTP clients, while SMP
// clients on the shared port keep working. Also the bounds: traversal, header size, connection
// count, request timeout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import https from "node:https";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { generateWebCertificate } from "../../src/crypto/x509/web-certificate.ts";
import { MAX_WEB_CONNECTIONS } from "../../src/web/http.ts";
import { startWeb, type RunningWeb } from "../../src/web/server.ts";
import { startTestServer, testCredentials, testOptions, type TestServer } from "../server/harness.ts";
import { connect } from "../server/helpers.ts";
import { EVIL_ESCAPED, sendMsgRoundTrip, siteInput } from "./fixtures.ts";

let dir: string;
let root: string;
let webCert: { der: Uint8Array; certFile: string; keyFile: string };
let web: RunningWeb; // http + https on their own ports
let sharedWeb: RunningWeb; // https on the SMP port
let smp: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "smp-web-"));
  root = join(dir, "www");
  const c = generateWebCertificate(["localhost", "127.0.0.1"]);
  webCert = { der: c.der, certFile: join(dir, "web.crt"), keyFile: join(dir, "web.key") };
  writeFileSync(webCert.certFile, c.pem);
  writeFileSync(webCert.keyFile, c.keyPem);
  const https = { port: 0, cert: webCert.certFile, key: webCert.keyFile };
  web = startWeb({ staticPath: root, http: 0, https, bindHost: "127.0.0.1", smpPorts: [], site: siteInput() });
  expect(web.warnings).toEqual([]);
  sharedWeb = startWeb({ staticPath: root, https, bindHost: "127.0.0.1", smpPorts: [0], site: siteInput() });
  expect(sharedWeb.shared).toBeDefined();
  smp = await startTestServer({ transport: { ...testOptions().transport, web: sharedWeb.shared } });
});

afterAll(async () => {
  web?.stop();
  sharedWeb?.stop();
  await smp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("descriptors the web's own listeners can hold (left free by SMP's connection bound): none for a shared port only", () => {
  expect(web.descriptors).toBe(MAX_WEB_CONNECTIONS + 2); // http and https listeners
  expect(sharedWeb.descriptors).toBe(0);
});

interface Got {
  status: number;
  type: string;
  body: Buffer;
  certDer?: Buffer;
  alpn?: string | false | null;
}

/** node:https with SNI `servername` (browsers send the host name), certificate checks off (self-signed). */
function httpsGet(port: number, path: string, servername = "localhost"): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: "127.0.0.1", port, path, servername, rejectUnauthorized: false, agent: false }, (res) => {
      const sock = res.socket as import("node:tls").TLSSocket;
      const certDer = sock.getPeerCertificate().raw;
      const alpn = sock.alpnProtocol;
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), body: Buffer.concat(parts), certDer, alpn }));
    });
    req.on("error", reject);
  });
}

async function httpGet(port: number, path: string): Promise<Got> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, type: r.headers.get("content-type") ?? "", body: Buffer.from(await r.arrayBuffer()) };
}

/** Raw bytes in, everything the server sends until it closes the connection out. */
function raw(port: number, request: string | Buffer, servername?: string): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const sock =
      servername === undefined
        ? netConnect({ host: "127.0.0.1", port })
        : tlsConnect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] });
    sock.on(servername === undefined ? "connect" : "secureConnect", () => sock.write(request));
    sock.on("data", (d: Buffer) => parts.push(d));
    sock.on("error", () => {});
    sock.on("close", () => resolve(Buffer.concat(parts).toString("latin1")));
  });
}

/** The protocol the server picked for these ALPN offers, or the handshake error. */
function alpnOutcome(port: number, offers: string[]): Promise<string> {
  return new Promise((resolve) => {
    const c = tlsConnect({ host: "127.0.0.1", port, servername: "localhost", rejectUnauthorized: false, ALPNProtocols: offers });
    c.on("secureConnect", () => {
      resolve(String(c.alpnProtocol));
      c.destroy();
    });
    c.on("error", (e) => resolve(e.message));
  });
}

const statusOf = (response: string): number => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);

/** Every path the site serves, with its file under the root and its content type. */
const PAGES: [string, string, string][] = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ...["a", "c", "g", "i", "r", "contact", "invitation"].flatMap((p): [string, string, string][] => [
    [`/${p}`, `${p}/index.html`, "text/html; charset=utf-8"],
    [`/${p}/`, `${p}/index.html`, "text/html; charset=utf-8"],
  ]),
  ["/media/style.css", "media/style.css", "text/css; charset=utf-8"],
  ["/media/link.js", "media/link.js", "text/javascript; charset=utf-8"],
  ["/media/qrcode.js", "media/qrcode.js", "text/javascript; charset=utf-8"],
  ["/media/favicon.svg", "media/favicon.svg", "image/svg+xml"],
  ["/.well-known/apple-app-site-association", "well-known/apple-app-site-association", "application/json"],
  ["/.well-known/assetlinks.json", "well-known/assetlinks.json", "application/json"],
];

describe("every page over HTTP, HTTPS and HTTPS on the shared SMP port", () => {
  const clients: [string, (path: string) => Promise<Got>][] = [
    ["http", (p) => httpGet(web.httpPort!, p)],
    ["https", (p) => httpsGet(web.httpsPort!, p)],
    ["https shared with SMP", (p) => httpsGet(smp.port, p)],
  ];
  for (const [name, get] of clients) {
    test(name, async () => {
      for (const [path, file, type] of PAGES) {
        const r = await get(path);
        expect([path, r.status, r.type]).toEqual([path, 200, type]);
        expect(r.body.equals(readFileSync(join(root, file)))).toBe(true);
      }
      // A link page with its fragment: the fragment never reaches the server, the page is the same.
      expect((await get("/a?x=1")).body.equals(readFileSync(join(root, "a/index.html")))).toBe(true);
      const info = (await get("/")).body.toString();
      expect(info).toContain(`<th>Operator:</th><td>${EVIL_ESCAPED} (CH)</td>`);
      expect(info).not.toContain("<script>alert");
      const aasa = JSON.parse((await get("/.well-known/apple-app-site-association")).body.toString());
      expect(aasa.applinks.details[0].appIDs).toEqual(["5NN7GUYB6T.chat.simplex.app"]);
      expect((await get("/nope")).status).toBe(404);
    });
  }

  test("HTTPS presents the web certificate and HTTP/1.x (h2 is not served)", async () => {
    for (const port of [web.httpsPort!, smp.port]) {
      const r = await httpsGet(port, "/");
      expect(r.certDer!.equals(Buffer.from(webCert.der))).toBe(true);
      expect(r.alpn === false || r.alpn === "http/1.1").toBe(true);
      // A client that offers only h2 is refused in the handshake; HTTP/1.0 is fine.
      expect(await alpnOutcome(port, ["h2"])).toMatch(/no[ _]application[ _]protocol/i);
      expect(await alpnOutcome(port, ["http/1.0"])).toBe("http/1.0");
      expect(await alpnOutcome(port, ["h2", "http/1.1"])).toBe("http/1.1");
    }
  });

  test("HEAD has the headers without the body; other methods are 405", async () => {
    const head = await raw(web.httpPort!, "HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(head)).toBe(200);
    expect(head).toContain(`Content-Length: ${readFileSync(join(root, "a/index.html")).length}\r\n`);
    expect(head.endsWith("\r\n\r\n")).toBe(true);
    const post = await raw(web.httpPort!, "DELETE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(statusOf(post)).toBe(405);
    expect(post).toContain("Allow: GET, HEAD\r\n");
  });

  test("keep-alive: two requests on one connection", async () => {
    const r = await raw(web.httpPort!, "GET /media/favicon.svg HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(r.match(/^HTTP\/1\.1 200 OK/gm)?.length).toBe(2);
  });
});

describe("shared port: SNI decides between the web site and SMP", () => {
  test("an SNI client gets the web certificate and HTML; an SMP client (no SNI) on the same port does a SEND/MSG round trip", async () => {
    const page = await httpsGet(smp.port, "/", "smp.example.com");
    expect(page.certDer!.equals(Buffer.from(webCert.der))).toBe(true);
    expect(new X509Certificate(page.certDer!).subject).toBe("CN=localhost");
    expect(page.type).toBe("text/html; charset=utf-8");
    expect(page.body.toString()).toContain("<h1>Server information</h1>");

    // A web client that stalls mid-request holds nothing SMP needs.
    const stalled = tlsConnect({ host: "127.0.0.1", port: smp.port, servername: "localhost", rejectUnauthorized: false });
    stalled.on("error", () => {});
    await new Promise((r) => stalled.once("secureConnect", r));
    stalled.write("GET / HTTP/1.1\r\nHost: loc");

    try {
      // The SMP client verifies the server's identity (keyHash of the SMP CA) in its handshake.
      await sendMsgRoundTrip(smp, "hello over a shared port");
    } finally {
      stalled.destroy();
    }
  });
});

describe("what a client cannot do to the web side", () => {
  const TRAVERSALS = [
    "/../../../../etc/passwd",
    "/a/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    "/a/..%2f..%2f..%2fetc%2fpasswd",
    "/..%5c..%5cetc%5cpasswd",
    "/.well-known/..%2f..%2fetc/passwd",
    "/%252e%252e/etc/passwd",
    "/index.html%00.txt",
    "/outside/passwd",
    "/.hidden",
  ];

  test("path traversal, encoded or not, is 400/404 over HTTP and HTTPS; nothing outside the root is read", async () => {
    const outside = join(dir, "secret.txt");
    writeFileSync(outside, "root:x:0:0:secret\n");
    symlinkSync(dir, join(root, "outside")); // a link out of the root is not followed
    symlinkSync(outside, join(root, "passwd-link"));
    for (const path of [...TRAVERSALS, "/passwd-link", "/outside/secret.txt"]) {
      for (const [port, sni] of [
        [web.httpPort!, undefined],
        [smp.port, "localhost"],
      ] as const) {
        const r = await raw(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, sni);
        expect([path, [400, 404].includes(statusOf(r))]).toEqual([path, true]);
        expect(r).not.toContain("root:x:0:0");
      }
    }
  });

  test("headers over 8 KB → 431 and close", async () => {
    const r = await raw(web.httpPort!, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(16 * 1024)}\r\n\r\n`);
    expect(statusOf(r)).toBe(431);
    const noEnd = await raw(web.httpPort!, `GET / HTTP/1.1\r\nX-Big: ${"a".repeat(9000)}`);
    expect(statusOf(noEnd)).toBe(431);
  });

  test("malformed requests → 400 and close", async () => {
    for (const req of ["GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n"])
      expect([req, statusOf(await raw(web.httpPort!, req))]).toEqual([req, 400]);
    expect(statusOf(await raw(web.httpPort!, "GET / HTTP/2.0\r\n\r\n"))).toBe(505);
    // A malformed path ends even a keep-alive connection (raw() resolves only on the server's close).
    expect(statusOf(await raw(web.httpPort!, "GET /%2e%2e/x HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe(400);
  });
});

describe("bounds (a separate site with small limits)", () => {
  test("connections beyond the web limit are closed at once; SMP on the shared port still connects", async () => {
    const d = mkdtempSync(join(tmpdir(), "smp-web-cap-"));
    const w = startWeb({ staticPath: join(d, "www"), http: 0, https: { port: 0, cert: webCert.certFile, key: webCert.keyFile }, bindHost: "127.0.0.1", smpPorts: [0], site: siteInput(), maxConnections: 2 });
    const s = await startTestServer({ transport: { ...testOptions().transport, web: w.shared } });
    const held = [netConnect({ host: "127.0.0.1", port: w.httpPort! }), netConnect({ host: "127.0.0.1", port: w.httpPort! })];
    try {
      await Promise.all(held.map((c) => new Promise((r) => c.once("connect", r))));
      // Both slots are taken once the server has seen them: a third connection gets closed.
      let closedEarly = "";
      for (;;) {
        closedEarly = await raw(w.httpPort!, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (closedEarly === "") break;
      }
      expect(closedEarly).toBe("");
      // SNI connections to the shared port count against the same limit…
      expect(await raw(s.port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "localhost")).toBe("");
      // …while SMP connections on that port do not.
      const c = await connect(s);
      c.close();
      held[0]!.destroy();
      // A slot is free again once the server saw the close.
      for (;;) {
        const r = await raw(w.httpPort!, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        if (statusOf(r) === 200) break;
      }
    } finally {
      for (const c of held) c.destroy();
      w.stop();
      await s.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("one address cannot take more than its share of the web connections", async () => {
    const d = mkdtempSync(join(tmpdir(), "smp-web-addr-"));
    const w = startWeb({ staticPath: join(d, "www"), http: 0, bindHost: "127.0.0.1", smpPorts: [], site: siteInput(), maxConnections: 10, maxConnectionsPerAddress: 1 });
    const held = netConnect({ host: "127.0.0.1", port: w.httpPort! });
    try {
      await new Promise((r) => held.once("connect", r));
      // The held connection has the address's only slot once the server saw it.
      for (;;) if ((await raw(w.httpPort!, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) === "") break;
      held.destroy();
      for (;;) if (statusOf(await raw(w.httpPort!, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) === 200) break;
    } finally {
      held.destroy();
      w.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });

  test("a client that sends no complete request is closed after the request timeout (here 300 ms)", async () => {
    const d = mkdtempSync(join(tmpdir(), "smp-web-slow-"));
    const w = startWeb({ staticPath: join(d, "www"), http: 0, bindHost: "127.0.0.1", smpPorts: [], site: siteInput(), httpLimits: { maxHeadBytes: 8192, requestTimeoutMs: 300, maxRequestsPerConnection: 100 } });
    try {
      // Waits for the server's close (the event, not a clock); a hang would fail on the test timeout.
      const r = await raw(w.httpPort!, "GET / HTTP/1.1\r\nHost: slo");
      expect(r).toBe("");
    } finally {
      w.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("web certificate problems never stop SMP", () => {
  test("missing cert/key: one warning naming both files, no SNI split, SMP serves on the port", async () => {
    const cert = join(dir, "missing.crt");
    const key = join(dir, "missing.key");
    const w = startWeb({ staticPath: join(dir, "www2"), https: { port: 0, cert, key }, bindHost: "127.0.0.1", smpPorts: [0], site: siteInput() });
    try {
      expect(w.shared).toBeUndefined();
      expect(w.warnings.length).toBe(1);
      expect(w.warnings[0]).toContain(cert);
      expect(w.warnings[0]).toContain(key);
      expect(w.warnings[0]).toContain("SMP on that port is not affected");
    } finally {
      w.stop();
    }
  });

  test("a key that does not match the certificate, or garbage: a warning, not an exception", () => {
    const other = generateWebCertificate(["localhost"]);
    const key = join(dir, "other.key");
    writeFileSync(key, other.keyPem);
    const garbage = join(dir, "garbage.crt");
    writeFileSync(garbage, "not a certificate");
    for (const [c, k] of [
      [webCert.certFile, key],
      [garbage, webCert.keyFile],
    ] as const) {
      const w = startWeb({ staticPath: join(dir, "www3"), https: { port: 0, cert: c, key: k }, bindHost: "127.0.0.1", smpPorts: [0], site: siteInput() });
      expect(w.shared).toBeUndefined();
      expect(w.warnings.length).toBe(1);
      expect(w.warnings[0]).toContain(c);
      w.stop();
    }
  });

  test("an Ed25519 web certificate (the SMP kind) is served, with a warning that browsers refuse it", () => {
    const creds = testCredentials();
    const cert = join(dir, "ed.crt");
    const key = join(dir, "ed.key");
    writeFileSync(cert, creds.certPem);
    writeFileSync(key, creds.keyPem);
    const w = startWeb({ staticPath: join(dir, "www4"), https: { port: 0, cert, key }, bindHost: "127.0.0.1", smpPorts: [0], site: siteInput() });
    expect(w.shared).toBeDefined();
    expect(w.warnings).toEqual([expect.stringContaining(`the web key ${key} is ed25519: browsers do not accept such certificates`)]);
    w.stop();
  });

  test("static_path not writable: a warning, nothing served", () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const w = startWeb({ staticPath: join(file, "www"), http: 0, bindHost: "127.0.0.1", smpPorts: [], site: siteInput() });
    expect(w.httpPort).toBeUndefined();
    expect(w.warnings[0]).toContain(join(file, "www"));
    w.stop();
  });
});
