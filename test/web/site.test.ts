// The generated site's content (SMPWeb.hs:serverInformation, Web.hs:serverInfoSubsts/timedTTLText,
// the reference's .well-known files) and the request-path rules of static-files.ts.
import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, existsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { infoPage, timedTTLText } from "../../src/web/info-page.ts";
import { buildSite, writeSite } from "../../src/web/site.ts";
import { contentTypeOf, pathSegments } from "../../src/web/static-files.ts";
import { EVIL_ESCAPED, siteInput } from "./fixtures.ts";

/** The text of the table cell after a row label. */
function cell(html: string, label: string): string {
  const m = new RegExp(`<th>${label}</th><td>(.*?)</td></tr>`, "s").exec(html);
  if (m === null) throw new Error(`no row ${label}`);
  return m[1]!;
}

describe("information page", () => {
  const html = infoPage(siteInput());

  test("every [INFORMATION] field appears, in the reference's rows", () => {
    expect(cell(html, "Server version:")).toBe("v9.8.7");
    expect(cell(html, "Source code:")).toBe(
      `<a href="https://github.com/example/smp?a=1&amp;b=2" rel="noopener noreferrer">https://github.com/example/smp?a=1&amp;b=2</a>`,
    );
    expect(cell(html, "Usage conditions:")).toContain(`href="https://example.com/conditions"`);
    expect(cell(html, "Amendments:")).toContain(`href="https://example.com/amendments"`);
    expect(cell(html, "Operator:")).toBe(`${EVIL_ESCAPED} (CH)`);
    const admin = cell(html, "Administrator contacts:");
    expect(admin).toContain(`<li>SimpleX: <a href="simplex:/contact#/?v=2&amp;smp=x" rel="noopener noreferrer">open address</a></li>`);
    expect(admin).toContain(`<li>Email: <a href="mailto:admin@example.com" rel="noopener noreferrer">admin@example.com</a></li>`);
    expect(admin).toContain(`<li>PGP: <a href="https://example.com/admin.asc" rel="noopener noreferrer">ADMIN FPR 1234</a></li>`);
    const complaints = cell(html, "Complaints and feedback:");
    expect(complaints).toContain(`href="https://simplex.chat/contact#complaints"`);
    expect(complaints).toContain(">abuse@example.com</a>");
    expect(complaints).toContain(">ABUSE FPR 5678</a>");
    expect(cell(html, "Hosting provider:")).toBe("Hosting &lt;GmbH&gt; (FI)");
    expect(cell(html, "Hosting type:")).toBe("Dedicated"); // Web.hs: first letter upper-cased
    expect(cell(html, "Server country:")).toBe("DE");
  });

  test("configured text never becomes markup: <script> stays text, javascript: is not a link", () => {
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<script"); // the information page runs no script at all
    expect(cell(html, "Web site:")).toBe("javascript:alert(1)");
    expect(html).not.toContain('href="javascript:');
  });

  test("configuration facts as SMPWeb.hs words them", () => {
    expect(cell(html, "Persistence:")).toBe("Queues and messages");
    expect(cell(html, "Message expiration:")).toBe("21 days");
    expect(cell(html, "Stats enabled:")).toBe("No");
    expect(cell(html, "New queues allowed:")).toBe("Yes");
    expect(cell(html, "Basic auth enabled:")).toBe("Yes");
    const mem = infoPage(siteInput({ config: { persistent: false, statsEnabled: true, newQueuesAllowed: false, basicAuthEnabled: false } }));
    expect(cell(mem, "Persistence:")).toBe("In-memory only");
    expect(cell(mem, "Message expiration:")).toBe("Never");
    expect(cell(mem, "Stats enabled:")).toBe("Yes");
    expect(cell(mem, "New queues allowed:")).toBe("No");
    expect(cell(mem, "Basic auth enabled:")).toBe("No");
  });

  test("the address for clients, never with a password; the fingerprint when no host is set", () => {
    expect(html).toContain(`<code class="address" id="server-address">smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@smp.example.com</code>`);
    expect(html).toContain("it is not shown here");
    const noHost = infoPage(siteInput({ serverAddress: undefined }));
    expect(noHost).not.toContain("server-address");
    expect(noHost).toContain(`<code id="server-fingerprint">LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=</code>`);
  });

  test("without source_code the AGPL notice replaces the source link; no other rows", () => {
    const bare = infoPage(siteInput({ information: undefined }));
    expect(cell(bare, "Source code:")).toContain("add <code>source_code</code>");
    for (const label of ["Operator:", "Web site:", "Hosting provider:", "Server country:"]) expect(bare).not.toContain(`<th>${label}</th>`);
  });

  test("onion host → onion-location", () => {
    expect(infoPage(siteInput({ onionHost: "abc.onion" }))).toContain(`<meta http-equiv="onion-location" content="http://abc.onion">`);
    expect(html).not.toContain("onion-location");
  });
});

test("timedTTLText as Web.hs:timedTTLText", () => {
  expect(timedTTLText(0)).toBe("0 sec");
  expect(timedTTLText(21 * 86400)).toBe("21 days");
  expect(timedTTLText(7 * 86400)).toBe("1 week");
  expect(timedTTLText(14 * 86400)).toBe("2 weeks");
  expect(timedTTLText(30 * 86400)).toBe("1 month");
  expect(timedTTLText(61 * 86400)).toBe("2 months 1 day");
  expect(timedTTLText(5400)).toBe("1 hour 30 min");
  expect(timedTTLText(7261)).toBe("2 hours 1 min 1 sec");
});

test("a file is replaced whole (written aside, renamed): a reader of the old one reads it all", () => {
  // Node 1 restarted rewrites the site while other nodes serve it (issue 18).
  const dir = mkdtempSync(join(tmpdir(), "smp-site-"));
  const old = "old page ".repeat(1000);
  writeFileSync(join(dir, "index.html"), old);
  const inode = statSync(join(dir, "index.html")).ino;
  const fd = openSync(join(dir, "index.html"), "r");
  try {
    writeSite(dir, buildSite(siteInput()));
    const buf = Buffer.alloc(old.length + 10);
    expect(buf.toString("utf8", 0, readSync(fd, buf, 0, buf.length, 0))).toBe(old);
  } finally {
    closeSync(fd);
  }
  expect(statSync(join(dir, "index.html")).ino).not.toBe(inode);
  expect(readFileSync(join(dir, "index.html"), "utf8")).toBe(infoPage(siteInput()));
  // No temporary file left behind.
  expect(readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".tmp"))).toEqual([]);
});

describe("generated files", () => {
  const dir = mkdtempSync(join(tmpdir(), "smp-site-"));
  writeSite(dir, buildSite(siteInput()));

  test("index, one page per link path (SMPWeb.hs:smpLinkPages), media, well-known", () => {
    for (const f of ["index.html", "media/style.css", "media/link.js", "media/qrcode.js", "media/favicon.svg", "well-known/assetlinks.json", "well-known/apple-app-site-association"])
      expect(existsSync(join(dir, f))).toBe(true);
    for (const p of ["contact", "invitation", "a", "c", "g", "r", "i"]) {
      const page = readFileSync(join(dir, p, "index.html"), "utf8");
      expect(page).toContain(`<script src="/media/qrcode.js"></script>`);
      expect(page).toContain(`<script src="/media/link.js"></script>`);
    }
  });

  test("app identifiers are the reference's (apps/common/Web/static/.well-known)", () => {
    const aasa = JSON.parse(readFileSync(join(dir, "well-known/apple-app-site-association"), "utf8"));
    expect(aasa.applinks.details[0].appIDs).toEqual(["5NN7GUYB6T.chat.simplex.app"]);
    expect(aasa.applinks.details[0].components.map((c: { "/": string }) => c["/"])).toEqual(
      ["contact", "invitation", "a", "c", "g", "i"].flatMap((p) => [`/${p}/*`, `/${p}`]),
    );
    const links = JSON.parse(readFileSync(join(dir, "well-known/assetlinks.json"), "utf8"));
    expect(links[0].relation).toEqual(["delegate_permission/common.handle_all_urls"]);
    expect(links[0].target.package_name).toBe("chat.simplex.app");
    expect(links[0].target.sha256_cert_fingerprints).toEqual([
      "5E:3E:DC:C2:00:FB:A8:D5:F4:88:F3:CA:4C:32:5B:05:78:C5:6A:9C:03:A1:CC:B5:92:9C:D7:5C:7E:57:E2:4D",
      "3C:52:C4:FD:3C:AD:1C:07:C9:B0:0A:70:80:E3:58:FA:B9:FE:FC:B8:AF:5A:EC:14:77:65:F1:6D:0F:21:AD:85",
      "AE:C1:95:DC:FD:46:14:BD:3A:91:EC:26:D1:D5:14:C8:75:71:C5:CC:8D:CF:48:08:3F:92:83:14:3C:A2:B9:A6",
    ]);
  });
});

describe("request paths (Web.hs:resolveStaticFile + ours)", () => {
  test("ordinary paths", () => {
    expect(pathSegments("/")).toEqual([]);
    expect(pathSegments("/a")).toEqual(["a"]);
    expect(pathSegments("/a/?x=1#frag")).toEqual(["a"]);
    expect(pathSegments("/media/style.css")).toEqual(["media", "style.css"]);
    expect(pathSegments("/.well-known/assetlinks.json")).toEqual(["well-known", "assetlinks.json"]);
    expect(pathSegments("/with%20space")).toEqual(["with space"]);
  });

  test("traversal and encoded separators are refused before the disk is touched", () => {
    for (const p of ["/../etc/passwd", "/a/../../x", "/%2e%2e/x", "/%2E%2E/%2E%2E/etc/passwd", "/a/..%2f..%2fetc", "/..%5c..%5cwin.ini", "/%00", "/a%2fb", "/./a", "/%2e/a", "/%zz", "http://x/a", "*"])
      expect(pathSegments(p)).toBe(400);
    for (const p of ["/.git/config", "/.hidden/x", "/media/.env"]) expect(pathSegments(p)).toBe(404);
  });

  test("content types (Web.hs:staticMimeType)", () => {
    expect(contentTypeOf("/s/well-known/apple-app-site-association")).toBe("application/json");
    expect(contentTypeOf("/s/well-known/assetlinks.json")).toBe("application/json");
    expect(contentTypeOf("/s/index.html")).toBe("text/html; charset=utf-8");
    expect(contentTypeOf("/s/media/x.js")).toBe("text/javascript; charset=utf-8");
    expect(contentTypeOf("/s/media/x.svg")).toBe("image/svg+xml");
    expect(contentTypeOf("/s/media/README")).toBe("application/octet-stream");
  });
});
