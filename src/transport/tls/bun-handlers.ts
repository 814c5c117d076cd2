/**
 * Bun socket callbacks shared by every connection (one object per listener/connector, not per
 * connection): each socket's `data` is its TlsConn.
 */
import type { Socket, SocketHandler } from "bun";
import type { TlsConn } from "./connection.ts";

export const tlsConnHandlers: SocketHandler<TlsConn> = {
  open(socket: Socket<TlsConn>) {
    socket.setNoDelay(true); // 16 KB blocks are complete messages: do not wait to coalesce
    socket.data.attach(socket as Socket<unknown>);
  },
  data(socket: Socket<TlsConn>, chunk: Uint8Array) {
    socket.data.socketData(chunk);
  },
  drain(socket: Socket<TlsConn>) {
    socket.data.socketDrained();
  },
  close(socket: Socket<TlsConn>, error?: Error) {
    socket.data.socketClosed(error?.message);
  },
  error(socket: Socket<TlsConn>, error: Error) {
    socket.data.socketClosed(error.message);
  },
};
