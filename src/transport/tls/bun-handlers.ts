/**
 * Bun socket callbacks shared by every connection (one object per listener/connector, not per
 * connection): each socket's `data` is the object that owns its bytes — a TlsConn, or on a port
 * shared with the web site first a ClientHello sniffer, then whichever side the hello chose.
 */
import type { Socket, SocketHandler } from "bun";

/** What a raw TCP socket's events are delivered to. */
export interface SocketSink {
  attach(socket: Socket<unknown>): void;
  socketData(chunk: Uint8Array): void;
  socketDrained(): void;
  socketClosed(reason?: string): void;
}

export const tlsConnHandlers: SocketHandler<SocketSink> = {
  open(socket: Socket<SocketSink>) {
    socket.setNoDelay(true); // 16 KB blocks are complete messages: do not wait to coalesce
    socket.data.attach(socket as Socket<unknown>);
  },
  data(socket: Socket<SocketSink>, chunk: Uint8Array) {
    socket.data.socketData(chunk);
  },
  drain(socket: Socket<SocketSink>) {
    socket.data.socketDrained();
  },
  close(socket: Socket<SocketSink>, error?: Error) {
    socket.data.socketClosed(error?.message);
  },
  error(socket: Socket<SocketSink>, error: Error) {
    socket.data.socketClosed(error.message);
  },
};

/** The sink of a socket being refused: its remaining events go nowhere. */
export const DISCARD: SocketSink = {
  attach() {},
  socketData() {},
  socketDrained() {},
  socketClosed() {},
};
