/**
 * The raw TCP side of a TLS connection as the node:tls TLSSocket wants it: a Duplex over a Bun
 * socket. Bun's own TLS sockets hide the TLS 1.3 Finished we need, so TLS runs over this plain
 * byte pipe while we watch the handshake bytes go by.
 *
 * Backpressure both ways: a partial `socket.write` holds the rest (and the stream's callback)
 * until the socket drains; a refused `push` pauses the socket until the TLS layer reads again.
 * Methods, not per-connection closures; no copies (Bun hands each `data` call a fresh buffer).
 */
import { Duplex } from "node:stream";
import type { Socket } from "bun";

/**
 * Bun's TLSSocket writes into this stream without waiting for it (its own writable side always
 * reports an empty buffer), so outgoing backpressure is read off this stream: the connection's
 * write() returns false above this mark and signals drain on this stream's 'drain'.
 */
export const OUTGOING_HIGH_WATER_MARK = 256 * 1024;

/**
 * Bun's node:tls feeds each chunk we push into a BoringSSL memory BIO, whose buffer grows to
 * 4/3 of the largest chunk and never shrinks: pushing a 16 KB read whole keeps ~22 KB per
 * connection for its lifetime. Pushing slices (views, no copies) caps that buffer.
 */
export const INCOMING_SLICE = 4096;

export class SocketDuplex extends Duplex {
  private socket: Socket<unknown> | null = null;
  /** Called with every outgoing TLS chunk while set (handshake only). */
  onOutgoing: ((chunk: Uint8Array) => void) | null = null;
  private pendingWrite: Uint8Array | null = null;
  private pendingCallback: ((error?: Error | null) => void) | null = null;
  private readPaused = false;
  /** The socket is gone for good (before it, a null socket means "not connected yet"). */
  private socketGone = false;

  constructor() {
    super({ writableHighWaterMark: OUTGOING_HIGH_WATER_MARK });
  }

  /** Encrypted bytes accepted from TLS but not yet taken by the socket exceed the mark. */
  get congested(): boolean {
    return this.writableLength >= OUTGOING_HIGH_WATER_MARK;
  }

  /** A client's TLS starts writing its ClientHello before the TCP connection exists. */
  attach(socket: Socket<unknown>): void {
    this.socket = socket;
    this.socketDrained();
  }

  /** Bytes from the network, towards TLS. */
  fromSocket(chunk: Uint8Array): void {
    let accepted = true;
    if (chunk.length <= INCOMING_SLICE) accepted = this.push(chunk);
    else for (let at = 0; at < chunk.length; at += INCOMING_SLICE) accepted = this.push(chunk.subarray(at, at + INCOMING_SLICE));
    if (!accepted && !this.readPaused && this.socket !== null) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  /** The network socket is writable again. */
  socketDrained(): void {
    const rest = this.pendingWrite;
    if (rest === null) return;
    const cb = this.pendingCallback!;
    this.pendingWrite = null;
    this.pendingCallback = null;
    this.sendOrHold(rest, cb);
  }

  socketClosed(reason: string): void {
    this.socket = null;
    this.socketGone = true;
    const cb = this.pendingCallback;
    this.pendingWrite = null;
    this.pendingCallback = null;
    if (cb !== null) cb(new Error(reason));
    this.push(null);
  }

  terminate(): void {
    this.socket?.terminate();
  }

  override _read(): void {
    if (this.readPaused) {
      this.readPaused = false;
      this.socket?.resume();
    }
  }

  override _write(chunk: Uint8Array, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.onOutgoing !== null) this.onOutgoing(chunk);
    this.sendOrHold(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket?.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.terminate();
    callback(error);
  }

  private sendOrHold(chunk: Uint8Array, callback: (error?: Error | null) => void): void {
    const socket = this.socket;
    if (socket === null) {
      if (this.socketGone) callback(new Error("socket closed"));
      else {
        this.pendingWrite = chunk;
        this.pendingCallback = callback;
      }
      return;
    }
    const n = socket.write(chunk);
    if (n === chunk.length) callback();
    else if (n < 0) callback(new Error("socket closed"));
    else {
      this.pendingWrite = chunk.subarray(n);
      this.pendingCallback = callback;
    }
  }
}
