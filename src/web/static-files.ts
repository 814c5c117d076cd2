/**
 * Request path → file under the site root (Web.hs:resolveStaticFile): directories serve their
 * index.html, `/.well-known/` maps to `well-known/`, and nothing outside the root is reachable —
 * `..`, encoded separators and hidden names are refused before touching the disk, and the real
 * path (symlinks resolved) must still be inside the root.
 */
import { realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";

export type Resolved = { path: string; contentType: string } | { status: 400 | 404 };

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  txt: "text/plain; charset=utf-8", // ours
};

/**
 * Web.hs:staticMimeType (with a charset on text types, and `.txt` added); `apple-app-site-association`
 * has no extension but is JSON.
 */
export function contentTypeOf(path: string): string {
  if (path.endsWith("/apple-app-site-association")) return "application/json";
  const dot = path.lastIndexOf(".");
  return (dot > path.lastIndexOf("/") && TYPES[path.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}

/** The path's segments, decoded and checked; a status when the path is malformed or hidden. */
export function pathSegments(target: string): string[] | 400 | 404 {
  if (!target.startsWith("/")) return 400; // origin-form only
  let end = target.length;
  for (const c of ["?", "#"]) {
    const i = target.indexOf(c);
    if (i >= 0 && i < end) end = i;
  }
  const segments: string[] = [];
  for (const raw of target.slice(1, end).split("/")) {
    if (raw === "") continue;
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return 400;
    }
    if (s === "." || s === ".." || /[/\\\0]/.test(s)) return 400;
    segments.push(s);
  }
  if (segments[0] === ".well-known") segments[0] = "well-known";
  if (segments.some((s) => s.startsWith("."))) return 404;
  return segments;
}

export async function resolveStaticFile(root: string, target: string): Promise<Resolved> {
  const segments = pathSegments(target);
  if (typeof segments === "number") return { status: segments };
  let path = join(root, ...segments);
  try {
    let st = await stat(path);
    if (st.isDirectory()) {
      path = join(path, "index.html");
      st = await stat(path);
    }
    if (!st.isFile()) return { status: 404 };
    const [realRoot, realPath] = await Promise.all([realpath(root), realpath(path)]);
    if (!realPath.startsWith(realRoot + sep)) return { status: 404 };
    return { path: realPath, contentType: contentTypeOf(realPath) };
  } catch {
    return { status: 404 };
  }
}
