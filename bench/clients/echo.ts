/**
 * Echo worker: CONNS TLS connections (src/transport/tls connectTLS, as the SMP client uses) each
 * keeping WINDOW 16384-byte blocks in flight to the echo server; counts blocks echoed back.
 *
 *   bun bench/clients/echo.ts PORT CONNS WINDOW
 *
 * Commands on stdin: go, mark, stop (as bench/clients/load.ts).
 */
import { connectTLS, type TlsConnection } from "../../src/transport/tls/index.ts";
import { commands, emit, fail } from "../lib/child.ts";

const BLOCK = 16384;
const [portArg, connsArg, windowArg] = process.argv.slice(2);
const port = Number(portArg);
const CONNS = Number(connsArg);
const WINDOW = Number(windowArg);
const block = crypto.getRandomValues(new Uint8Array(BLOCK));

let running = false;
let echoed = 0;
let markAt = 0;
let markCpu = process.cpuUsage();

function pump(conn: TlsConnection, st: { sent: number; received: number; blocked: boolean }): void {
  st.blocked = false;
  while (running && st.sent - Math.floor(st.received / BLOCK) < WINDOW) {
    st.sent++;
    if (!conn.write(block)) {
      st.blocked = true;
      return;
    }
  }
}

let conns: { conn: TlsConnection; st: { sent: number; received: number; blocked: boolean } }[];
try {
  conns = await Promise.all(
    Array.from({ length: CONNS }, async () => {
      const conn = await connectTLS({ host: "127.0.0.1", port, alpn: ["smp/1"] });
      const st = { sent: 0, received: 0, blocked: false };
      conn.onData = (chunk) => {
        const before = Math.floor(st.received / BLOCK);
        st.received += chunk.length;
        echoed += Math.floor(st.received / BLOCK) - before;
        if (!st.blocked) pump(conn, st);
      };
      conn.onDrain = () => pump(conn, st);
      return { conn, st };
    }),
  );
} catch (e) {
  fail(e);
}
emit({ ready: true });

for await (const cmd of commands()) {
  if (cmd === "go") {
    running = true;
    for (const c of conns) pump(c.conn, c.st);
  } else if (cmd === "mark") {
    echoed = 0;
    markAt = performance.now();
    markCpu = process.cpuUsage();
  } else if (cmd === "stop") {
    const seconds = (performance.now() - markAt) / 1000;
    const cpu = process.cpuUsage(markCpu);
    running = false;
    emit({ echoed, seconds, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
}
for (const c of conns) c.conn.close();
process.exit(0);
