/**
 * How much of the TLS layer's own CPU goes to garbage collection: the echo server of the
 * benchmark (bench/echo-server.ts, our TLS stack and nothing of SMP) under `BUN_JSC_logGC=1`,
 * driven by bench/clients/echo.ts (4 connections × 8 blocks of 16 KB in flight) for --seconds.
 * Prints blocks/s, the server's CPU time and the share of it spent in stop-the-world GC pauses.
 *
 *   bun bench/echo-gc.ts [--seconds 10]
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/server.ts";

const argv = process.argv.slice(2);
const SECONDS = argv.indexOf("--seconds") >= 0 ? Number(argv[argv.indexOf("--seconds") + 1]) : 10;

/** utime + stime of a process, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0]!;
}

const server = Bun.spawn([process.execPath, join(ROOT, "bench/echo-server.ts")], {
  stdin: "pipe",
  stdout: "pipe",
  stderr: "pipe",
  env: { ...process.env, BUN_JSC_logGC: "1" },
});
const { port } = JSON.parse(await firstLine(server.stdout)) as { port: number };

let counting = false;
let pauseMs = 0;
let collections = 0;
void (async () => {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of server.stderr) {
    buf += dec.decode(chunk);
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      // JSC's logGC ends each stop-the-world pause with "p=<ms>ms (max …)".
      const m = /p=([\d.]+)ms \(max/.exec(line);
      if (m !== null && counting) {
        pauseMs += Number(m[1]);
        if (line.endsWith("END]")) collections++;
      }
    }
  }
})();

const client = Bun.spawn([process.execPath, join(ROOT, "bench/clients/echo.ts"), String(port), "4", "8"], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
await firstLine(client.stdout);
client.stdin.write("go\n");
await Bun.sleep(3000);
const cpu0 = cpuMs(server.pid);
counting = true;
client.stdin.write("mark\n");
await Bun.sleep(SECONDS * 1000);
counting = false;
const cpu1 = cpuMs(server.pid);
client.stdin.write("stop\n");
const result = JSON.parse(await firstLine(client.stdout)) as { echoed: number; seconds: number };
const cpu = cpu1 - cpu0;
console.log(`echo: ${(result.echoed / result.seconds).toFixed(0)} blocks/s of 16 KB each way`);
console.log(`echo server: CPU ${cpu} ms in ${SECONDS} s; GC pauses ${pauseMs.toFixed(0)} ms in ${collections} collections = ${((100 * pauseMs) / cpu).toFixed(1)} % of its CPU, ${((pauseMs * 1000) / result.echoed).toFixed(1)} µs per block`);
client.kill();
server.kill();
process.exit(0);
