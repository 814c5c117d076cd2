// Two connected in-memory TransportStreams: the SMP layers above TLS, tested without sockets.
import type { StreamHandlers, TransportStream } from "../../src/transport/stream.ts";

export interface MemoryEnd extends TransportStream {
  /** Everything this end wrote, in order (copies). */
  readonly written: Uint8Array[];
}

class End implements MemoryEnd {
  peer!: End;
  handlers: StreamHandlers | null = null;
  readonly written: Uint8Array[] = [];
  private pending: Uint8Array[] = [];
  private paused = false;
  closed = false;

  constructor(
    readonly sessionId: Uint8Array,
    readonly alpn: string | null,
    readonly peerCertificateChain: readonly Uint8Array[],
  ) {}

  setHandlers(h: StreamHandlers): void {
    this.handlers = h;
  }

  write(data: Uint8Array): boolean {
    if (this.closed) return false;
    const copy = data.slice();
    this.written.push(copy);
    queueMicrotask(() => this.peer.deliver(copy));
    return true;
  }

  deliver(b: Uint8Array): void {
    if (this.closed) return;
    if (this.paused || this.handlers === null) this.pending.push(b);
    else this.handlers.onData(b);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && this.pending.length > 0 && this.handlers !== null) this.handlers.onData(this.pending.shift()!);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    queueMicrotask(() => {
      this.handlers?.onClose();
      this.peer.close();
    });
  }
}

export function memoryStreamPair(opts: {
  sessionId: Uint8Array;
  alpn?: string | null;
  /** What the server sees as the client's TLS chain. */
  clientChain?: readonly Uint8Array[];
  /** What the client sees as the server's TLS chain. */
  serverChain?: readonly Uint8Array[];
}): { server: MemoryEnd; client: MemoryEnd } {
  const alpn = opts.alpn === undefined ? "smp/1" : opts.alpn;
  const server = new End(opts.sessionId, alpn, opts.clientChain ?? []);
  const client = new End(opts.sessionId, alpn, opts.serverChain ?? []);
  server.peer = client;
  client.peer = server;
  return { server, client };
}
