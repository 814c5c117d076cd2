/**
 * A TLS port shared by SMP and the web site (Server.hs:smpServer.runServer with `[WEB] https`
 * equal to an SMP port): the ClientHello is held until it is complete; with SNI the connection is
 * handed to the web side, without SNI it becomes an ordinary SMP TLS connection fed the very same
 * bytes — so SMP's TLS, session binding and ALPN are unchanged. The TLS setup timeout runs from
 * the TCP connection, across both stages.
 */
import type { Socket } from "bun";
import { DISCARD, type SocketSink } from "./bun-handlers.ts";
import { HelloReader, MAX_CLIENT_HELLO } from "./client-hello.ts";
import { TlsConn, type TlsSetup } from "./connection.ts";

/** Takes over a socket whose ClientHello named a server; `hello` holds every byte received so far. */
export type SniHandoff = (socket: Socket<SocketSink>, hello: Uint8Array) => void;

/** Bytes held while waiting for the hello; a longer "hello" is not one a browser sends. */
const MAX_HELD = 2 * MAX_CLIENT_HELLO;

export class HelloSniffer implements SocketSink {
  private socket: Socket<SocketSink> | null = null;
  private readonly reader = new HelloReader();
  private decided = false;
  private readonly startedAt = performance.now();
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly setup: TlsSetup,
    private readonly handoff: SniHandoff,
  ) {
    this.timer = setTimeout(() => this.timedOut(), setup.timeoutMs);
  }

  attach(socket: Socket<unknown>): void {
    this.socket = socket as Socket<SocketSink>;
  }

  socketData(chunk: Uint8Array): void {
    if (this.decided) return;
    let verdict = this.reader.push(chunk);
    const held = this.reader.bytes;
    if (verdict === "more" && held.length > MAX_HELD) verdict = "no-sni";
    if (verdict === "more") return;
    this.decided = true;
    clearTimeout(this.timer);
    const socket = this.socket!;
    if (verdict === "refuse") {
      socket.data = DISCARD;
      socket.terminate();
      this.setup.failed("TLS ClientHello cut into too many records");
      return;
    }
    if (verdict === "sni") {
      try {
        this.handoff(socket, held);
      } catch (e) {
        // The web side failed to take it: that connection ends, the listener and SMP go on.
        socket.data = DISCARD;
        socket.terminate();
        this.setup.failed(`web handoff: ${(e as Error).message}`);
      }
      return;
    }
    const remaining = Math.max(1, this.setup.timeoutMs - (performance.now() - this.startedAt));
    const conn = new TlsConn({ ...this.setup, timeoutMs: remaining });
    socket.data = conn;
    conn.attach(socket as Socket<unknown>);
    conn.socketData(held);
  }

  socketDrained(): void {}

  socketClosed(reason?: string): void {
    if (this.decided) return;
    this.decided = true;
    clearTimeout(this.timer);
    this.setup.failed(reason ?? "closed before the TLS ClientHello");
  }

  private timedOut(): void {
    if (this.decided) return;
    this.decided = true;
    this.setup.failed("TLS setup timeout");
    this.socket?.terminate();
  }
}
