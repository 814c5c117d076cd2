/** An echo server over listenTLS that records what it saw, and the Python/OpenSSL client runner. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { listenTLS, type TlsConnection, type TlsServer, type TlsServerConfig } from "../../../src/transport/tls/index.ts";

export interface EchoServer {
  server: TlsServer;
  port: number;
  connections: TlsConnection[];
  handshakeErrors: string[];
  /** Resolves with the next established connection. */
  nextConnection(): Promise<TlsConnection>;
  /** Resolves with the next handshake error. */
  nextHandshakeError(): Promise<string>;
  stop(): void;
}

export function startEchoServer(config: Omit<TlsServerConfig, "hostname" | "port" | "onConnection" | "onHandshakeError">): EchoServer {
  const connections: TlsConnection[] = [];
  const handshakeErrors: string[] = [];
  let connWaiters: ((c: TlsConnection) => void)[] = [];
  let errWaiters: ((e: string) => void)[] = [];
  const server = listenTLS({
    ...config,
    hostname: "127.0.0.1",
    port: 0,
    onConnection(conn) {
      connections.push(conn);
      conn.onData = (chunk) => {
        conn.write(chunk);
      };
      const w = connWaiters;
      connWaiters = [];
      for (const f of w) f(conn);
    },
    onHandshakeError(reason) {
      handshakeErrors.push(reason);
      const w = errWaiters;
      errWaiters = [];
      for (const f of w) f(reason);
    },
  });
  return {
    server,
    port: server.port,
    connections,
    handshakeErrors,
    nextConnection: () => new Promise((r) => connWaiters.push(r)),
    nextHandshakeError: () => new Promise((r) => errWaiters.push(r)),
    stop: () => server.stop(true),
  };
}

export interface PyResult {
  version?: string;
  cipher?: string;
  alpn?: string | null;
  tls_unique?: string;
  echo?: string;
  reused?: boolean;
  error?: string;
}

const PY_CLIENT = new URL("./py_client.py", import.meta.url).pathname;

/** TLS 1.3 suites the Python client offers, via an OpenSSL config file (they are not settable from ssl). */
export function opensslConf(dir: string, ciphersuites: string): string {
  const path = join(dir, `openssl-${ciphersuites.replace(/[^A-Z0-9]/gi, "_")}.cnf`);
  writeFileSync(
    path,
    `openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = ${ciphersuites}
`,
  );
  return path;
}

/** Runs py_client.py (asynchronously: the server under test lives in this process). */
export async function pyClient(
  port: number,
  opts: { version: "1.2" | "1.3"; alpn?: string; caFile: string; resume?: boolean; opensslConf?: string },
): Promise<PyResult[]> {
  const args = ["/usr/bin/python3", PY_CLIENT, "127.0.0.1", String(port), opts.version, opts.alpn ?? "-", opts.caFile];
  if (opts.resume) args.push("resume");
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  if (opts.opensslConf) env.OPENSSL_CONF = opts.opensslConf;
  const p = Bun.spawn(args, { stdout: "pipe", stderr: "pipe", env });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  if (p.exitCode !== 0) throw new Error(`py_client failed: ${err}`);
  return JSON.parse(out) as PyResult[];
}

/** Raw TCP client: sends `bytes`, resolves with the ms until the server closed the connection. */
export async function rawClient(port: number, bytes: Uint8Array): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          if (bytes.length > 0) s.write(bytes);
        },
        data() {},
        close() {
          resolve(performance.now() - t0);
        },
      },
    }).catch(reject);
  });
}
