/**
 * Server-side memory per idle TLS connection (src/transport/tls) after one 16 KB exchange each way
 * — the shape of an idle SMP connection after its handshake block. The server runs in this
 * process; the clients in a child process, so its memory is not counted.
 *
 *   bun bench/tls-idle-memory.ts [connections=2000] [exchangeBytes=16384]
 *
 * Prints RSS and JSC heap size before and after, per connection, and the JS object counts that grew.
 */
import { heapStats } from "bun:jsc";
import { generateCa, generateServerCert } from "../src/crypto/x509/certificate.ts";
import { connectTLS, listenTLS, type TlsConnection } from "../src/transport/tls/index.ts";

const N = Number(process.argv[3] === "client" ? process.argv[5] : (process.argv[2] ?? 2000));
const BYTES = Number(process.argv[3] === "client" ? process.argv[6] : (process.argv[3] ?? 16384));

if (process.argv[3] === "client") {
  // child: bun tls-idle-memory.ts _ client PORT N BYTES
  const port = Number(process.argv[4]);
  const conns: TlsConnection[] = [];
  const payload = new Uint8Array(BYTES).fill(0x41);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) {
        next++;
        const c = await connectTLS({ host: "127.0.0.1", port, alpn: [] });
        if (BYTES > 0) {
          await new Promise<void>((resolve) => {
            let got = 0;
            c.onData = (chunk) => {
              got += chunk.length;
              if (got >= BYTES) resolve();
            };
            c.write(payload);
          });
        }
        conns.push(c);
      }
    }),
  );
  console.log("ready");
  for await (const _ of console) break; // hold until stdin closes
  process.exit(0);
}

const ca = generateCa();
const cert = generateServerCert(ca, "localhost");
const credentials = { certPem: cert.pem, chainPem: ca.pem, keyPem: cert.keyPem };
const held: TlsConnection[] = [];
const server = listenTLS({
  hostname: "127.0.0.1",
  port: 0,
  credentials,
  alpn: null,
  askClientCert: false,
  onConnection(conn) {
    held.push(conn);
    let got = 0;
    conn.onData = (chunk) => {
      got += chunk.length;
      if (got >= BYTES) conn.write(new Uint8Array(BYTES).fill(0x42));
    };
  },
});

function rssKb(): number {
  const m = /VmRSS:\s+(\d+)/.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"));
  return Number(m![1]);
}
async function settle(): Promise<{ rss: number; heap: number; objects: Record<string, number> }> {
  for (let i = 0; i < 3; i++) {
    Bun.gc(true);
    await Bun.sleep(100);
  }
  const s = heapStats();
  return { rss: rssKb(), heap: s.heapSize, objects: s.objectTypeCounts };
}

// warm up: one connection, so that lazily loaded modules are not counted
{
  const warm = Bun.spawn([process.execPath, import.meta.path, "_", "client", String(server.port), "1", String(BYTES)], { stdin: "pipe", stdout: "pipe" });
  const r = warm.stdout.getReader();
  await r.read();
  warm.stdin.end();
  await warm.exited;
  await Bun.sleep(200);
  held.length = 0;
}

const before = await settle();
const t0 = performance.now();
const child = Bun.spawn([process.execPath, import.meta.path, "_", "client", String(server.port), String(N), String(BYTES)], { stdin: "pipe", stdout: "pipe" });
await child.stdout.getReader().read();
const after = await settle();
const secs = (performance.now() - t0) / 1000;
const per = (a: number, b: number) => (b - a) / held.length;
console.log(`${held.length} connections (${BYTES} B each way) in ${secs.toFixed(1)} s`);
console.log(`RSS  ${(before.rss / 1024).toFixed(1)} → ${(after.rss / 1024).toFixed(1)} MB: ${per(before.rss, after.rss).toFixed(1)} KB per connection`);
console.log(`heap ${(before.heap / 1048576).toFixed(1)} → ${(after.heap / 1048576).toFixed(1)} MB: ${(per(before.heap, after.heap) / 1024).toFixed(1)} KB per connection`);
const grown = Object.entries(after.objects)
  .map(([k, v]) => [k, (v - (before.objects[k] ?? 0)) / held.length] as const)
  .filter(([, d]) => d >= 0.5)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 25);
console.log("objects per connection:", grown.map(([k, d]) => `${k} ${d.toFixed(1)}`).join(", "));
child.stdin.end();
await child.exited;
server.stop(true);
process.exit(0);
