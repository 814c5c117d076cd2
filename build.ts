/**
 * Builds the single-file `smp-server` executables: `bun build.ts [x64|arm64 …]`.
 * `bun build --compile` embeds the Bun runtime, so the result needs neither bun nor node on the
 * host. Cross-compiling fetches the other platform's runtime from the npm registry once.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(fileURLToPath(import.meta.url));
const ENTRY = "src/cli/main.ts";
const TARGETS = { x64: "bun-linux-x64", arm64: "bun-linux-arm64" } as const;
type Arch = keyof typeof TARGETS;

function build(arch: Arch): string {
  const outfile = join("dist", `smp-server-linux-${arch}`);
  // Identifiers are minified too: nothing depends on function/class names at runtime
  // (error classes set `name` explicitly). --splitting puts each dynamically imported module
  // (the CLI's other verbs, optional server parts) in its own embedded chunk: without it the
  // bundler wraps every module they share in a lazy initializer, and the running server was
  // measured 2 MB larger (bench/idle-rss.ts).
  const args = [process.execPath, "build", "--compile", "--minify", "--splitting", `--target=${TARGETS[arch]}`, ENTRY, "--outfile", outfile];
  console.log(`$ ${args.slice(1).join(" ")}`);
  const r = Bun.spawnSync(args, { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`build for ${arch} failed (exit ${r.exitCode})`);
  return join(ROOT, outfile);
}

const requested = process.argv.slice(2);
const unknown = requested.filter((a) => !(a in TARGETS));
if (unknown.length > 0) {
  console.error(`unknown target(s): ${unknown.join(", ")} (choose from ${Object.keys(TARGETS).join(", ")})`);
  process.exit(2);
}
mkdirSync(join(ROOT, "dist"), { recursive: true });
try {
  for (const arch of (requested.length > 0 ? requested : Object.keys(TARGETS)) as Arch[]) console.log(`built ${build(arch)}`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
