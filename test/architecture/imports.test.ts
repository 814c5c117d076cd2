/**
 * The import graph of src/ (docs/ARCHITECTURE.md): no cycle, type imports included, and no import
 * against the layers encoding → crypto → protocol → transport | store → client → server → cli,
 * with src/util/log.ts a leaf every layer may use. Imports are read with TypeScript's own parser,
 * so `import type`, `export … from`, `import("…")` types and `require("…")` all count.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dir, "../..");
const SRC = join(ROOT, "src");

/** Relative module specifiers of one file, as written. */
function importsOf(fileName: string, text: string): string[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (n: ts.Node): void => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier !== undefined && ts.isStringLiteral(n.moduleSpecifier)) {
      out.push(n.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push(n.argument.literal.text);
    } else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) {
      out.push(n.moduleReference.expression.text);
    } else if (ts.isCallExpression(n) && n.arguments.length >= 1 && ts.isStringLiteralLike(n.arguments[0]!)) {
      const callee = n.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) out.push((n.arguments[0] as ts.StringLiteralLike).text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out.filter((s) => s.startsWith("."));
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files.push(...sourceFiles(p));
    else if (name.endsWith(".ts")) files.push(p);
  }
  return files.sort();
}

/** The project's own compiler options (tsconfig.json), so specifiers resolve exactly as tsc resolves them. */
const COMPILER_OPTIONS: ts.CompilerOptions = (() => {
  const path = join(ROOT, "tsconfig.json");
  const { config, error } = ts.readConfigFile(path, ts.sys.readFile);
  if (error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, path).options;
})();

/** Without `realpath`, so the node_modules symlink keeps the path it is imported by. */
const RESOLVE_HOST: ts.ModuleResolutionHost = {
  fileExists: ts.sys.fileExists,
  readFile: ts.sys.readFile,
  directoryExists: ts.sys.directoryExists,
  getCurrentDirectory: () => ROOT,
};

/**
 * The file a relative specifier names, as tsc finds it (`./x`, `./x.js` and `./dir` included);
 * a file imported as text (`with { type: "text" }`) is taken as written. Undefined when none.
 */
function resolveImport(fromFile: string, spec: string): string | undefined {
  const found = ts.resolveModuleName(spec, fromFile, COMPILER_OPTIONS, RESOLVE_HOST).resolvedModule?.resolvedFileName;
  if (found !== undefined) return found;
  const literal = resolve(dirname(fromFile), spec);
  return existsSync(literal) && statSync(literal).isFile() ? literal : undefined;
}

/** Module graph: file (relative to `root`) → files it imports; `unresolved` lists imports that name no file. */
function importGraph(
  files: readonly string[],
  read: (f: string) => string = (f) => readFileSync(f, "utf8"),
  root: string = ROOT,
): { graph: Map<string, string[]>; unresolved: string[] } {
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const f of files) {
    const deps: string[] = [];
    for (const spec of importsOf(f, read(f))) {
      const to = resolveImport(f, spec);
      if (to === undefined) unresolved.push(`${relative(root, f)} → "${spec}" (no such file)`);
      else deps.push(relative(root, to));
    }
    graph.set(relative(root, f), [...new Set(deps)].sort());
  }
  return { graph, unresolved };
}

/** A set of files that import each other, and the shortest cycle through its first file. */
interface Cycle {
  readonly files: string[];
  readonly cycle: string[];
}

/** Every strongly connected component with a cycle (Tarjan), each with one concrete cycle. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): Cycle[] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sccs: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue; // outside the graph (package.json, an embedded script): no cycle through it
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) strong(v);
  return sccs.map((files) => ({ files, cycle: cycleIn(graph, new Set(files)) }));
}

/** The shortest cycle through the component's first file (breadth-first), closed on itself. */
function cycleIn(graph: ReadonlyMap<string, readonly string[]>, scc: ReadonlySet<string>): string[] {
  const start = [...scc][0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** docs/ARCHITECTURE.md: the layers each layer may import from (its own included). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  encoding: ["encoding"],
  crypto: ["encoding", "crypto"],
  protocol: ["encoding", "crypto", "protocol"],
  transport: ["encoding", "crypto", "protocol", "transport"],
  store: ["encoding", "crypto", "protocol", "store"],
  client: ["encoding", "crypto", "protocol", "transport", "client"],
  server: ["encoding", "crypto", "protocol", "transport", "store", "client", "server"],
  web: ["encoding", "crypto", "protocol", "transport", "web"],
  cli: ["encoding", "crypto", "protocol", "transport", "store", "client", "server", "web", "cli"],
};
const LEAF = "src/util/log.ts";

function layerOf(file: string): string {
  return file.split("/")[1]!;
}

function layerViolations(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [from, deps] of graph) {
    for (const to of deps) {
      if (!to.startsWith("src/")) {
        if (to === "package.json" && layerOf(from) === "cli") continue; // the version printed by the CLI
        if (from === "src/web/assets.ts" && to.startsWith("node_modules/qrcode-generator/")) continue; // the script the pages serve, embedded as text
        out.push(`${from} → ${to} (outside src/)`);
        continue;
      }
      if (from === LEAF) {
        out.push(`${from} → ${to} (${LEAF} is a leaf: it imports nothing)`);
        continue;
      }
      if (to === LEAF) continue;
      const allowed = MAY_IMPORT[layerOf(from)];
      if (allowed === undefined) out.push(`${from} is in no layer`);
      else if (!allowed.includes(layerOf(to))) out.push(`${from} → ${to} (${layerOf(from)} may not import ${layerOf(to)})`);
    }
  }
  return out;
}

describe("the checks themselves", () => {
  const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

  test("imports of every kind are found, type-only ones included", () => {
    const text = [
      `import type { A } from "./a.ts";`,
      `import { B } from "../b.ts";`,
      `export { C } from "./c.ts";`,
      `export * from "./d.ts";`,
      `type E = typeof import("./e.ts");`,
      `const f = require("./f.ts");`,
      `const g = await import("./g.ts");`,
      `import { h } from "node:fs";`,
    ].join("\n");
    expect(importsOf("x.ts", text)).toEqual(["./a.ts", "../b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts", "./g.ts"]);
  });

  test("a cycle is reported as a path closed on itself; a tree has none", () => {
    expect(findCycles(g({ a: ["b"], b: ["c"], c: ["a"], d: ["a"] }))).toEqual([{ files: ["a", "b", "c"], cycle: ["a", "b", "c", "a"] }]);
    expect(findCycles(g({ a: ["a"] }))).toEqual([{ files: ["a"], cycle: ["a", "a"] }]);
    expect(findCycles(g({ a: ["b", "c"], b: ["a"], c: ["b"] }))).toEqual([{ files: ["a", "b", "c"], cycle: ["a", "b", "a"] }]);
    expect(findCycles(g({ a: ["b", "c"], b: ["c"], c: [] }))).toEqual([]);
  });

  test("an import against the layers is reported, the log leaf is not", () => {
    const graph = g({
      "src/protocol/x.ts": ["src/transport/y.ts", "src/util/log.ts"],
      "src/store/s.ts": ["src/transport/y.ts"],
      "src/server/a.ts": ["src/cli/b.ts", "src/client/c.ts"],
      "src/util/log.ts": ["src/encoding/z.ts"],
    });
    expect(layerViolations(graph)).toEqual([
      "src/protocol/x.ts → src/transport/y.ts (protocol may not import transport)",
      "src/store/s.ts → src/transport/y.ts (store may not import transport)",
      "src/server/a.ts → src/cli/b.ts (server may not import cli)",
      "src/util/log.ts → src/encoding/z.ts (src/util/log.ts is a leaf: it imports nothing)",
    ]);
  });

  test("specifiers resolve as tsc resolves them: without extension, `.js` for `.ts`, a directory's index; a missing file is reported", () => {
    const dir = mkdtempSync(join(tmpdir(), "imports-"));
    try {
      const src = join(dir, "src");
      mkdirSync(join(src, "server", "dir"), { recursive: true });
      const files: Record<string, string> = {
        "server/a.ts": [`import type { B } from "./b";`, `import { C } from "./c.js";`, `export * from "./dir";`, `import "./gone";`].join("\n"),
        "server/b.ts": `import type { A } from "./a.ts";`,
        "server/c.ts": `export const C = 1;`,
        "server/dir/index.ts": `export const D = 1;`,
      };
      for (const [name, text] of Object.entries(files)) writeFileSync(join(src, name), text);
      const { graph, unresolved } = importGraph(sourceFiles(src), undefined, dir);
      expect(graph.get("src/server/a.ts")).toEqual(["src/server/b.ts", "src/server/c.ts", "src/server/dir/index.ts"]);
      expect(findCycles(graph).map((c) => c.cycle)).toEqual([["src/server/a.ts", "src/server/b.ts", "src/server/a.ts"]]);
      expect(unresolved).toEqual([`src/server/a.ts → "./gone" (no such file)`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("src/ import graph", () => {
  const { graph, unresolved } = importGraph(sourceFiles(SRC));

  test("every relative import names a file", () => {
    if (unresolved.length > 0) console.error(`unresolved imports:\n  ${unresolved.join("\n  ")}`);
    expect(unresolved).toEqual([]);
  });

  test("every file was read", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get("src/server/server.ts")!.length).toBeGreaterThan(0);
  });

  test("has no import cycle (type imports included)", () => {
    const cycles = findCycles(graph).map((c) => `${c.cycle.join(" → ")}  (${c.files.length} files import each other: ${c.files.join(", ")})`);
    if (cycles.length > 0) console.error(`import cycles:\n  ${cycles.join("\n  ")}`);
    expect(cycles).toEqual([]);
  });

  test("imports only along the layers", () => {
    const v = layerViolations(graph);
    if (v.length > 0) console.error(`layer violations:\n  ${v.join("\n  ")}`);
    expect(v).toEqual([]);
  });
});
