/**
 * The static site, generated at start-up from the configuration into `[WEB] static_path`
 * (Web.hs:generateSite): operators may serve that directory with their own web server too.
 * `.well-known` is written as `well-known` (as the reference does: static servers skip hidden
 * directories) and requests for `/.well-known/…` are mapped onto it.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { FAVICON_SVG, LINK_JS, QRCODE_JS, STYLE_CSS } from "./assets.ts";
import type { SiteInput } from "./info.ts";
import { infoPage } from "./info-page.ts";
import { LINK_PAGES, linkPage } from "./link-page.ts";
import { APPLE_APP_SITE_ASSOCIATION, ASSET_LINKS } from "./well-known.ts";

/** Relative path → content. */
export type SiteFiles = Map<string, string>;

export function buildSite(input: SiteInput): SiteFiles {
  const files: SiteFiles = new Map();
  files.set("index.html", infoPage(input));
  for (const p of Object.keys(LINK_PAGES)) files.set(`${p}/index.html`, linkPage(p));
  files.set("media/style.css", STYLE_CSS);
  files.set("media/favicon.svg", FAVICON_SVG);
  files.set("media/link.js", LINK_JS);
  files.set("media/qrcode.js", QRCODE_JS);
  files.set("well-known/apple-app-site-association", JSON.stringify(APPLE_APP_SITE_ASSOCIATION, null, 2) + "\n");
  files.set("well-known/assetlinks.json", JSON.stringify(ASSET_LINKS, null, 2) + "\n");
  return files;
}

/**
 * Writes (replaces) the generated files; other files in the directory are left alone. Each file
 * is written beside its place and renamed over it: other nodes (or the operator's web server)
 * may be serving the old one while a restarted node 1 writes, and must never read half a file.
 */
export function writeSite(root: string, files: SiteFiles): void {
  for (const [rel, content] of files) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    // Hidden (static-files.ts refuses dot names, as other static servers do), and this process's own.
    const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, content);
      renameSync(tmp, path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }
}
