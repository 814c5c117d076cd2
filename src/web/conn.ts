/**
 * One web connection on a raw Bun socket: plain HTTP, or TLS with the web certificate (node:tls
 * over the same socket pipe SMP uses, so a connection handed over from a shared SMP port after
 * its ClientHello continues seamlessly). Connections are counted against one limit for all web
 * listeners and one per client address; beyond them new ones are closed at once.
 */
import type { SecureContext } from "node:tls";
import { TLSSocket } from "node:tls";
import type { Socket } from "bun";
import { addressKey } from "../transport/admission.ts";
import type { SocketSink } from "../transport/tls/bun-handlers.ts";
import { SocketDuplex } from "../transport/tls/socket-duplex.ts";
import { HTTP_LIMITS, HttpSession, type HttpLimits } from "./http.ts";

/** Simultaneous web connections over all web listeners (the SMP connections are not counted here). */
export const MAX_WEB_CONNECTIONS = 256;
/** …and from one address (an IPv6 /64 as one), so that one client cannot take all of them. */
export const MAX_WEB_CONNECTIONS_PER_ADDRESS = 16;

export class WebConnections {
  open = 0;
  /** Open connections by peer address key (addressKey: IPv4, or IPv6 /64): in memory only, never logged. */
  private readonly perAddress = new Map<string, number>();

  constructor(
    readonly root: string,
    readonly maxConnections: number = MAX_WEB_CONNECTIONS,
    readonly limits: HttpLimits = HTTP_LIMITS,
    readonly maxPerAddress: number = MAX_WEB_CONNECTIONS_PER_ADDRESS,
  ) {}

  /** A sink for a new socket, or null when a limit is reached (the caller closes the socket). */
  connection(tls: SecureContext | null, address: string): WebConn | null {
    // A host picks any address in its /64, so the /64 is what one client holds.
    const key = addressKey(address) ?? address;
    const fromAddress = this.perAddress.get(key) ?? 0;
    if (this.open >= this.maxConnections || fromAddress >= this.maxPerAddress) return null;
    let conn: WebConn;
    try {
      conn = new WebConn(this, tls, key);
    } catch {
      return null; // node:tls refused to set up; the socket is closed like one over the limit
    }
    this.open++;
    this.perAddress.set(key, fromAddress + 1);
    return conn;
  }

  released(key: string): void {
    this.open--;
    const n = (this.perAddress.get(key) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(key);
    else this.perAddress.set(key, n);
  }
}

/**
 * ALPN: HTTP/1.x only (the reference also offers h2; a client that offers h2 alone gets the
 * no_application_protocol alert). Clients without ALPN are served HTTP/1.1 as well.
 */
const HTTP_ALPN = ["http/1.1", "http/1.0"];
const selectHttp1 = (info: { protocols: string[] }): string | undefined => HTTP_ALPN.find((p) => info.protocols.includes(p));

export class WebConn implements SocketSink {
  private readonly duplex = new SocketDuplex();
  private closed = false;

  constructor(
    private readonly owner: WebConnections,
    tls: SecureContext | null,
    /** The owner's per-address key, given back on release. */
    private readonly addressKey: string,
  ) {
    let stream: SocketDuplex | TLSSocket = this.duplex;
    if (tls !== null) {
      stream = new TLSSocket(this.duplex, { isServer: true, secureContext: tls, ALPNCallback: selectHttp1 } as ConstructorParameters<typeof TLSSocket>[1]);
    }
    new HttpSession(stream, owner.root, owner.limits);
    stream.on("close", () => {
      this.duplex.destroy(); // the TCP socket goes with the stream on top of it
      this.release();
    });
  }

  attach(socket: Socket<unknown>): void {
    this.duplex.attach(socket);
  }

  socketData(chunk: Uint8Array): void {
    this.duplex.fromSocket(chunk);
  }

  socketDrained(): void {
    this.duplex.socketDrained();
  }

  socketClosed(reason?: string): void {
    this.duplex.socketClosed(reason ?? "connection closed");
    this.release();
  }

  private release(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.released(this.addressKey);
  }
}
