/**
 * `npm start` (the README's run command) stops the server with the signal the operator sends to
 * npm: npm forwards SIGTERM to its child, which must be the server itself (the start script
 * `exec`s it) rather than a shell that ignores it and leaves the server running as an orphan.
 */
import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAIN, ROOT } from "../fixtures/run-cli.ts";

const npm = Bun.which("npm");
if (npm === null) console.warn("SKIP: npm not found, the npm start signal test is skipped");

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0))
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
});

/** Every process below `pid` (Linux /proc). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return out;
  for (const c of readFileSync(file, "utf8").split(" ").filter((s) => s !== "").map(Number)) out.push(c, ...descendants(c));
  return out;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

test.skipIf(npm === null)("SIGTERM to `npm start` stops the server: no orphan left listening", async () => {
  const base = mkdtempSync(join(tmpdir(), "smp-npm-"));
  const flags = ["--config-dir", join(base, "etc"), "--data-dir", join(base, "var")];
  const l = Bun.listen({ hostname: "0.0.0.0", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  const init = Bun.spawnSync([process.execPath, MAIN, "init", ...flags, "--port", String(port), "--no-password"], { cwd: ROOT });
  expect(init.exitCode).toBe(0);

  const p = Bun.spawn([npm!, "start", "--", ...flags], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  leftovers.push(p.pid);
  let out = "";
  const dec = new TextDecoder();
  const reader = p.stdout.getReader();
  while (!out.includes("Serving SMP protocol on port")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`npm start ended: ${out}`);
    out += dec.decode(value);
  }
  const below = descendants(p.pid);
  expect(below.length).toBeGreaterThan(0);
  leftovers.push(...below);

  p.kill("SIGTERM");
  await p.exited;
  // The server got the signal: it closes and exits (within its own shutdown, no time bound here).
  while (below.some(alive)) await Bun.sleep(20);
  // Nothing listens on the port any more.
  const refused = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
    (s) => {
      s.end();
      return false;
    },
    () => true,
  );
  expect(refused).toBe(true);
}, 30_000);
