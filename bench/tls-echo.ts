/**
 * TLS handshake time and 16 KB-block echo throughput: our TLS wrapper (node:tls over Bun TCP with
 * the handshake scanner, src/transport/tls) against Bun's native TLS sockets.
 *
 *   bun bench/tls-echo.ts [megabytes=64] [handshakes=200]
 *
 * Rows: client → server, "native" = Bun.connect/Bun.listen({ tls }), "wrapper" = connectTLS/listenTLS.
 * Servers run in this process, each client in a child process (one JS thread per side).
 */
import { generateCa, generateServerCert } from "../src/crypto/x509/certificate.ts";
import { connectTLS, listenTLS, type TlsConnection } from "../src/transport/tls/index.ts";

const BLOCK = 16384;
const WINDOW = 16; // blocks in flight
const megabytes = Number(process.argv[2] ?? 64);
const handshakes = Number(process.argv[3] ?? 200);
const blocks = Math.ceil((megabytes * 1024 * 1024) / BLOCK);

const ca = generateCa();
const server = generateServerCert(ca, "localhost");
const credentials = { certPem: server.pem, chainPem: ca.pem, keyPem: server.keyPem };
const block = new Uint8Array(BLOCK).fill(0x23);

// ---------------------------------------------------------------- servers

const wrapperServer = listenTLS({
  hostname: "127.0.0.1",
  port: 0,
  credentials,
  onConnection(conn) {
    conn.onData = (chunk) => {
      if (!conn.write(chunk)) conn.pause();
    };
    conn.onDrain = () => conn.resume();
  },
});

interface NativeEcho {
  pending: Uint8Array[];
}
const nativeServer = Bun.listen<NativeEcho>({
  hostname: "127.0.0.1",
  port: 0,
  tls: { cert: server.pem + ca.pem, key: server.keyPem },
  socket: {
    open(s) {
      s.data = { pending: [] };
    },
    data(s, chunk) {
      if (s.data.pending.length > 0) s.data.pending.push(chunk);
      else {
        const n = s.write(chunk);
        if (n < chunk.length) s.data.pending.push(chunk.subarray(Math.max(n, 0)));
      }
    },
    drain(s) {
      const p = s.data.pending;
      while (p.length > 0) {
        const n = s.write(p[0]);
        if (n < p[0].length) {
          p[0] = p[0].subarray(Math.max(n, 0));
          return;
        }
        p.shift();
      }
    },
  },
});

// ---------------------------------------------------------------- clients

/** A client as the benchmark drives it: send a block, learn about echoed bytes and drains. */
interface BenchClient {
  send(b: Uint8Array): boolean;
  onBytes: (n: number) => void;
  onDrain: () => void;
  close(): void;
}

async function nativeClient(port: number): Promise<BenchClient> {
  let pending: Uint8Array | null = null;
  const c: BenchClient = {
    send: () => false,
    onBytes: () => {},
    onDrain: () => {},
    close: () => socket.end(),
  };
  let resolveOpen: () => void;
  const opened = new Promise<void>((r) => (resolveOpen = r));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    tls: { rejectUnauthorized: false },
    socket: {
      handshake() {
        resolveOpen();
      },
      data(_s, chunk) {
        c.onBytes(chunk.length);
      },
      drain(s) {
        if (pending !== null) {
          const n = s.write(pending);
          pending = n < pending.length ? pending.subarray(Math.max(n, 0)) : null;
        }
        if (pending === null) c.onDrain();
      },
    },
  });
  c.send = (b) => {
    if (pending !== null) return false;
    const n = socket.write(b);
    if (n < b.length) {
      pending = b.subarray(Math.max(n, 0));
      return false;
    }
    return true;
  };
  await opened;
  return c;
}

async function wrapperClient(port: number): Promise<BenchClient> {
  const conn: TlsConnection = await connectTLS({ host: "127.0.0.1", port, alpn: ["smp/1"] });
  const c: BenchClient = { send: (b) => conn.write(b), onBytes: () => {}, onDrain: () => {}, close: () => conn.close() };
  conn.onData = (chunk) => c.onBytes(chunk.length);
  conn.onDrain = () => c.onDrain();
  return c;
}

// ---------------------------------------------------------------- measurements

async function echo(c: BenchClient): Promise<number> {
  const total = blocks * BLOCK;
  let sent = 0;
  let received = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let blocked = false;
    const pump = () => {
      blocked = false;
      while (sent < blocks && (sent - Math.floor(received / BLOCK)) < WINDOW) {
        sent++;
        if (!c.send(block)) {
          blocked = true;
          return;
        }
      }
    };
    c.onDrain = pump;
    c.onBytes = (n) => {
      received += n;
      if (received >= total) done();
      else if (!blocked) pump();
    };
    pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  c.close();
  return total / 1024 / 1024 / seconds;
}

async function handshakeMs(connect: () => Promise<BenchClient>): Promise<number> {
  for (let i = 0; i < 10; i++) (await connect()).close(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < handshakes; i++) (await connect()).close();
  return (performance.now() - t0) / handshakes;
}

const clientKinds = { native: nativeClient, wrapper: wrapperClient } as const;

if (process.argv[4] === "--client") {
  // child: one row, server port given; prints JSON
  const kind = process.argv[5] as keyof typeof clientKinds;
  const port = Number(process.argv[6]);
  const hs = await handshakeMs(() => clientKinds[kind](port));
  const mbps = await echo(await clientKinds[kind](port));
  console.log(JSON.stringify({ hs, mbps }));
  process.exit(0);
}

console.log(`16 KB-block echo, ${megabytes} MB, window ${WINDOW} blocks; ${handshakes} sequential handshakes; client in a separate process`);
for (const [clientKind, serverKind] of [["native", "native"], ["native", "wrapper"], ["wrapper", "native"], ["wrapper", "wrapper"]] as const) {
  const port = serverKind === "native" ? nativeServer.port : wrapperServer.port;
  const child = Bun.spawn([process.execPath, import.meta.path, String(megabytes), String(handshakes), "--client", clientKind, String(port)], { stdout: "pipe" });
  const out = await new Response(child.stdout).text();
  await child.exited;
  const { hs, mbps } = JSON.parse(out) as { hs: number; mbps: number };
  console.log(`${clientKind.padEnd(7)} → ${serverKind.padEnd(7)}  handshake ${hs.toFixed(2)} ms   echo ${mbps.toFixed(0)} MB/s`);
}
wrapperServer.stop(true);
nativeServer.stop(true);
process.exit(0);
