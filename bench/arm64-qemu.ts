/**
 * Small-board functional check: the compiled arm64 binary, run under qemu user-mode emulation,
 * passes the XSalsa20-Poly1305 kernel tests, initializes, starts, and serves full client round trips (NEW, SKEY, SEND, MSG decrypted, ACK)
 * for 1,000 queues from an x64 client in this process. qemu itself adds ~100 MB and runs the JIT's
 * arm64 code through its translator, so this checks function only; memory is judged on the native
 * binary (bench/cgroup.ts).
 *
 *   bun bench/arm64-qemu.ts [--queues 1000] [--pairs 10] [--qemu qemu-aarch64] [--sysroot /usr/aarch64-linux-gnu]
 *
 * Needs qemu-user and the arm64 C library (Debian/Ubuntu: qemu-user libc6-arm64-cross). Exits 1 on
 * any failure.
 */
import { roundTrips } from "./lib/roundtrips.ts";
import { memory } from "./lib/proc.ts";
import { ensureBinary, initServer, removeServerDirs, ROOT, ServerProcess } from "./lib/server.ts";

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => (argv.indexOf("--" + name) >= 0 ? argv[argv.indexOf("--" + name) + 1]! : def);
const QUEUES = Number(opt("queues", "1000"));
const PAIRS = Number(opt("pairs", "10"));
const QEMU = opt("qemu", "qemu-aarch64");
const SYSROOT = opt("sysroot", "/usr/aarch64-linux-gnu");
const log = (s: string): void => console.log(`arm64-qemu: ${s}`);

if (Bun.which(QEMU) === null) {
  log(`${QEMU} not found (install qemu-user)`);
  process.exit(1);
}
const bin = ensureBinary("arm64", log);
const command = [QEMU, "-L", SYSROOT, bin];

// The runtime inside the binary (BUN_BE_BUN=1 makes it the bun CLI) runs the XSalsa20-Poly1305
// tests, so the WebAssembly SIMD kernel is checked against the vectors on arm64 code too.
const kernel = Bun.spawnSync([...command, "test", "test/crypto/secretbox-wasm.test.ts"], { cwd: ROOT, env: { ...process.env, BUN_BE_BUN: "1" }, stdout: "pipe", stderr: "pipe" });
const kernelOut = kernel.stderr.toString() + kernel.stdout.toString();
log(`XSalsa20-Poly1305 kernel tests on arm64: ${/(\d+) pass/.exec(kernelOut)?.[0] ?? "?"}, ${/(\d+) fail/.exec(kernelOut)?.[0] ?? "?"}`);
if (kernel.exitCode !== 0) {
  log("FAIL");
  process.exit(1);
}
let t = performance.now();
const spec = initServer(command, 1000);
log(`init under qemu: ${((performance.now() - t) / 1000).toFixed(1)} s`);
let server: ServerProcess | null = null;
let failed = false;
try {
  t = performance.now();
  server = await ServerProcess.start(spec, { gcLog: false });
  log(`start under qemu: ${((performance.now() - t) / 1000).toFixed(1)} s; RSS of qemu + server ${(memory(server.pid).rssKb / 1024).toFixed(0)} MB`);
  const r = await roundTrips(spec.address, PAIRS, QUEUES, 120_000);
  log(`${r.connections} connections (TLS + SMP v20 handshake) in ${r.connectSeconds.toFixed(1)} s`);
  log(`${r.queues} queues, each NEW → SKEY → SEND → MSG (decrypted, checked) → ACK: ${r.seconds.toFixed(1)} s (${(r.queues / r.seconds).toFixed(0)} round trips/s)`);
  log(`RSS of qemu + server after: ${(memory(server.pid).rssKb / 1024).toFixed(0)} MB (qemu's own share included)`);
  for (const c of r.clients) c.close();
} catch (e) {
  failed = true;
  log(`FAILED: ${(e as Error).message}`);
} finally {
  if (server !== null) {
    const code = await server.stop();
    if (code !== 0) {
      failed = true;
      log(`server exited with ${code} on SIGTERM`);
    }
  }
  removeServerDirs(spec);
}
log(failed ? "FAIL" : "PASS");
process.exit(failed ? 1 : 0);
