/**
 * Connections to an HTTP responder (http-responder.ts) on raw Bun sockets: plain HTTP, or TLS
 * (node:tls over the same socket pipe SMP uses, so a connection handed over from a shared SMP
 * port after its ClientHello continues seamlessly). They are bounded by an Admission of their
 * own, so a web or metrics client never takes a place SMP counts on; beyond it new ones are
 * closed at accept.
 *
 * Raw listeners rather than Bun.serve: Bun.serve accepts every connection and cannot be told how
 * many to hold, so unfinished requests could take all the process's file descriptors and SMP
 * would stop accepting.
 */
import type { SecureContext } from "node:tls";
import { TLSSocket } from "node:tls";
import type { Socket, TCPSocketListener } from "bun";
import { Admission, type AdmissionLimits } from "./admission.ts";
import { HttpSession, type HttpLimits, type HttpService, type StallCounter } from "./http-responder.ts";
import { DISCARD, tlsConnHandlers, type SocketSink } from "./tls/bun-handlers.ts";
import { SocketDuplex } from "./tls/socket-duplex.ts";

export class HttpConnections implements StallCounter {
  readonly admission: Admission;
  /** Sessions waiting for their client to read their responses. */
  stalled = 0;

  constructor(
    readonly service: HttpService,
    admission: AdmissionLimits,
    readonly limits: HttpLimits,
  ) {
    this.admission = new Admission(admission);
  }

  /** Connections held now. */
  get open(): number {
    return this.admission.open;
  }

  /** A sink for a new socket, or null when a bound is reached (the caller closes the socket). */
  connection(tls: SecureContext | null, address: string): HttpConn | null {
    const admitted = this.admission.admit(address);
    if (typeof admitted === "string") return null;
    try {
      return new HttpConn(this, tls, admitted.key);
    } catch {
      this.admission.release(admitted.key); // node:tls refused to set up: closed like one over the bound
      return null;
    }
  }

  /** Makes the socket a connection, or closes it at once when a bound is reached. */
  adopt(socket: Socket<SocketSink>, tls: SecureContext | null): boolean {
    const conn = this.connection(tls, socket.remoteAddress);
    if (conn === null) {
      socket.data = DISCARD;
      socket.terminate();
      return false;
    }
    socket.data = conn;
    return true;
  }

  /**
   * A listener whose connections are these (throws when the port cannot be bound); `reusePort`:
   * other processes (nodes of the same server) listen on the same port.
   */
  listen(hostname: string, port: number, tls: SecureContext | null, reusePort = false): TCPSocketListener<SocketSink> {
    return Bun.listen<SocketSink>({
      hostname,
      port,
      ...(reusePort && { reusePort: true }),
      socket: {
        ...tlsConnHandlers,
        open: (socket) => {
          if (this.adopt(socket, tls)) tlsConnHandlers.open!(socket);
        },
      },
    });
  }
}

/**
 * ALPN: HTTP/1.x only (the reference's web server also offers h2; a client that offers h2 alone
 * gets the no_application_protocol alert). Clients without ALPN are served HTTP/1.1 as well.
 */
const HTTP_ALPN = ["http/1.1", "http/1.0"];
const selectHttp1 = (info: { protocols: string[] }): string | undefined => HTTP_ALPN.find((p) => info.protocols.includes(p));

export class HttpConn implements SocketSink {
  private readonly duplex = new SocketDuplex();
  private closed = false;

  constructor(
    private readonly owner: HttpConnections,
    tls: SecureContext | null,
    /** The admission key, given back on release. */
    private readonly key: string | null,
  ) {
    let stream: SocketDuplex | TLSSocket = this.duplex;
    if (tls !== null) {
      stream = new TLSSocket(this.duplex, { isServer: true, secureContext: tls, ALPNCallback: selectHttp1 } as ConstructorParameters<typeof TLSSocket>[1]);
    }
    new HttpSession(stream, owner.service, owner.limits, tls === null ? null : this.duplex, owner);
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
    this.owner.admission.release(this.key);
  }
}
