/**
 * Outgoing connections through a SOCKS5 proxy (RFC 1928, username/password RFC 1929), as the
 * reference's proxy agent makes them for onion destinations (Transport/Client.hs:
 * connectSocksClient): CONNECT by domain name for onion and domain hosts, by address for IPs,
 * then the same TLS as a direct connection over the tunnelled socket.
 */
import { isIPv4 } from "node:net";
import { ipv6Bytes } from "../../encoding/ip-address.ts";
import type { Socket, SocketHandler } from "bun";
import { TlsConn, type TlsConnection } from "../../transport/tls/connection.ts";
import { validateServerChain } from "../../transport/tls/chain-validation.ts";
import { MAX_HANDSHAKE_BYTES, TLS_SETUP_TIMEOUT_MS, clientSecureContext } from "../../transport/tls/params.ts";
import { TlsConnectError } from "../../transport/tls/client-tls.ts";

export interface SocksProxy {
  readonly host: string;
  readonly port: number;
}

export interface SocksCredentials {
  readonly username: string;
  readonly password: string;
}

export interface SocksTlsConfig {
  readonly proxy: SocksProxy;
  readonly credentials: SocksCredentials | null;
  /** The destination, as the proxy should resolve it. */
  readonly host: string;
  readonly port: number;
  readonly keyHash: Uint8Array;
  readonly alpn: readonly string[];
  readonly timeoutMs?: number;
}

/** SOCKS5 CONNECT request for host:port (ATYP 1 IPv4, 4 IPv6, 3 domain name). */
export function socksConnectRequest(host: string, port: number): Uint8Array {
  let addr: number[];
  const v6 = ipv6Bytes(host);
  if (isIPv4(host)) addr = [1, ...host.split(".").map(Number)];
  else if (v6 !== null) addr = [4, ...v6];
  else {
    const name = new TextEncoder().encode(host);
    if (name.length === 0 || name.length > 255) throw new RangeError("SOCKS5 host name must be 1..255 bytes");
    addr = [3, name.length, ...name];
  }
  return Uint8Array.from([5, 1, 0, ...addr, port >> 8, port & 0xff]);
}

function credentialsRequest(c: SocksCredentials): Uint8Array {
  const u = new TextEncoder().encode(c.username);
  const p = new TextEncoder().encode(c.password);
  if (u.length > 255 || p.length > 255) throw new RangeError("SOCKS5 username and password are at most 255 bytes");
  return Uint8Array.from([1, u.length, ...u, p.length, ...p]);
}

type Phase = "greeting" | "auth" | "connect" | "tls" | "failed";

/** Per-socket state: the SOCKS exchange, then the TLS connection the socket is handed to. */
class SocksTunnel {
  phase: Phase = "greeting";
  private buf = new Uint8Array(0);
  socket: Socket<SocksTunnel> | null = null;

  constructor(
    readonly conn: TlsConn,
    private readonly cfg: SocksTlsConfig,
    private readonly fail: (reason: string) => void,
  ) {}

  opened(socket: Socket<SocksTunnel>): void {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.write(Uint8Array.from(this.cfg.credentials === null ? [5, 1, 0] : [5, 1, 2]));
  }

  data(chunk: Uint8Array): void {
    if (this.phase === "tls") {
      this.conn.socketData(chunk);
      return;
    }
    if (this.phase === "failed") return;
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
    try {
      this.step();
    } catch (e) {
      this.abort((e as Error).message);
    }
  }

  /** Consumes complete replies from `buf`; each reply moves the exchange on. */
  private step(): void {
    for (;;) {
      const b = this.buf;
      if (this.phase === "greeting") {
        if (b.length < 2) return;
        if (b[0] !== 5) throw new Error("not a SOCKS5 proxy");
        const method = b[1];
        this.buf = b.subarray(2);
        if (method === 2 && this.cfg.credentials !== null) {
          this.phase = "auth";
          this.socket!.write(credentialsRequest(this.cfg.credentials));
        } else if (method === 0 && this.cfg.credentials === null) {
          this.sendConnect();
        } else throw new Error("SOCKS5 proxy refused the authentication method");
      } else if (this.phase === "auth") {
        if (b.length < 2) return;
        if (b[1] !== 0) throw new Error("SOCKS5 authentication failed");
        this.buf = b.subarray(2);
        this.sendConnect();
      } else if (this.phase === "connect") {
        if (b.length < 5) return;
        if (b[0] !== 5) throw new Error("bad SOCKS5 reply");
        if (b[1] !== 0) throw new Error(`SOCKS5 CONNECT failed (${b[1]})`);
        const atyp = b[3];
        const addrLen = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + b[4]! : -1;
        if (addrLen < 0) throw new Error("bad SOCKS5 reply address");
        const total = 4 + addrLen + 2;
        if (b.length < total) return;
        const rest = b.subarray(total);
        this.buf = new Uint8Array(0);
        this.phase = "tls";
        // TLS has been writing its ClientHello into the connection's buffer: it flows now.
        this.conn.attach(this.socket as Socket<unknown>);
        if (rest.length > 0) this.conn.socketData(rest);
        return;
      } else return;
    }
  }

  private sendConnect(): void {
    this.phase = "connect";
    this.socket!.write(socksConnectRequest(this.cfg.host, this.cfg.port));
  }

  abort(reason: string): void {
    if (this.phase === "failed") return;
    const wasTls = this.phase === "tls";
    this.phase = "failed";
    this.socket?.end();
    if (wasTls) this.conn.socketClosed(reason);
    else this.fail(reason);
  }

  closed(reason?: string): void {
    if (this.phase === "tls") this.conn.socketClosed(reason);
    else this.abort(reason ?? "SOCKS5 proxy closed the connection");
  }
}

const socksHandlers: SocketHandler<SocksTunnel> = {
  open(socket) {
    socket.data.opened(socket);
  },
  data(socket, chunk) {
    socket.data.data(chunk);
  },
  drain(socket) {
    if (socket.data.phase === "tls") socket.data.conn.socketDrained();
  },
  close(socket, error) {
    socket.data.closed(error?.message);
  },
  error(socket, error) {
    socket.data.closed(error.message);
  },
};

/** transport/tls connectTLS through a SOCKS5 tunnel: same checks, same session id. */
export function connectTLSViaSocks(cfg: SocksTlsConfig): Promise<TlsConnection> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let tunnel: SocksTunnel | null = null;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      // Before the hand-over the socket is ours to close; after it, the TLS connection's.
      if (tunnel !== null && tunnel.phase !== "tls") tunnel.socket?.end();
      conn.destroy();
      reject(new TlsConnectError(reason));
    };
    const conn = new TlsConn({
      side: "client",
      secureContext: clientSecureContext(),
      timeoutMs: cfg.timeoutMs ?? TLS_SETUP_TIMEOUT_MS,
      maxHandshakeBytes: MAX_HANDSHAKE_BYTES,
      alpnProtocols: cfg.alpn.length > 0 ? [...cfg.alpn] : undefined,
      checkPeerChain: (chain) => {
        const r = validateServerChain(cfg.keyHash, chain);
        return r.ok ? null : r.error;
      },
      ready: (c) => {
        settled = true;
        resolve(c);
      },
      failed: (reason) => fail(reason),
    });
    const t = new SocksTunnel(conn, cfg, fail);
    tunnel = t;
    Bun.connect<SocksTunnel>({ hostname: cfg.proxy.host, port: cfg.proxy.port, data: t, socket: socksHandlers }).catch((e: Error) =>
      t.abort(`SOCKS5 proxy: ${e.message}`),
    );
  });
}
