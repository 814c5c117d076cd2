/**
 * One TLS connection, either side: node:tls over a Bun TCP socket (see socket-duplex.ts), the
 * handshake watched by record scanners to learn what the TLS stack hides — the SMP session id
 * (the client's Finished, Transport.hs:withTlsUnique) and the peer's certificate chain as sent.
 *
 * The connection is handed to its owner only once the handshake is complete AND the session id
 * is known AND the peer chain passed validation; before that, bytes from the peer are capped and
 * a setup timer runs (Transport/Server.hs:tlsSetupTimeout).
 */
import { TLSSocket, type SecureContext } from "node:tls";
import type { Socket } from "bun";
import { RecordScanner } from "./record-scanner.ts";
import { SocketDuplex } from "./socket-duplex.ts";
import { CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET, parseKeylogLine } from "./tls13-keys.ts";

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

/** What the SMP transport layer uses: a byte stream with explicit backpressure. */
export interface TlsConnection {
  /** tls-unique: the client's Finished verify_data (12 bytes in TLS 1.2, 32/48 in TLS 1.3). */
  readonly sessionId: Uint8Array;
  /** Negotiated ALPN protocol, false when none. */
  readonly alpn: string | false;
  readonly tlsVersion: TlsVersion;
  /** The peer's certificates as sent (DER, leaf first); [] when it sent none. */
  readonly peerCertificateChain: Uint8Array[];
  /** Bytes from the peer; what arrives before it is first set is held and delivered then. */
  onData: (chunk: Uint8Array) => void;
  /** write() returned false and the buffered bytes have since been flushed (may also fire spuriously). */
  onDrain: () => void;
  /** Called once, when the connection is gone (either side closed it, or an error). */
  onClose: () => void;
  /**
   * Called once per write() call, in write order: with true when the TLS layer has encrypted
   * those bytes and holds no reference to them any more (the buffer may then be reused), with
   * false when they were refused or the connection failed first (keep the buffer out of reuse).
   */
  onWritten: (ok: boolean) => void;
  /** Queue bytes; false = buffer above its high-water mark, wait for onDrain. */
  write(bytes: Uint8Array): boolean;
  /** Stop/restart delivering onData (propagates to the TCP socket). */
  pause(): void;
  resume(): void;
  /** Graceful: close_notify, then TCP close (forced after 5 s). */
  close(): void;
  /** Immediate. */
  destroy(): void;
  readonly closed: boolean;
}

export interface TlsSetup {
  side: "server" | "client";
  secureContext: SecureContext;
  timeoutMs: number;
  maxHandshakeBytes: number;
  /** Server: request a (optional) client certificate. */
  requestCert?: boolean;
  /** Server: pick the protocol from the client's ALPN list; undefined = no_application_protocol. */
  alpnCallback?: (clientProtocols: string[]) => string | undefined;
  /** Client: ALPN list to offer. */
  alpnProtocols?: string[];
  /** Checks the peer chain once known; returns an error message to reject the connection. */
  checkPeerChain: (chain: Uint8Array[]) => string | null;
  ready: (conn: TlsConn) => void;
  failed: (reason: string) => void;
}

/** The reference closes with `gracefulClose conn 5000` (Transport/Server.hs:runTCPServerSocket). */
const GRACEFUL_CLOSE_MS = 5000;
/** Held data beyond which reading pauses until the owner sets onData. */
const EARLY_DATA_LIMIT = 64 * 1024;
/**
 * Largest plaintext handed to TLS in one write. Each write becomes one record in BoringSSL's
 * output memory BIO, whose buffer grows to 4/3 of the largest record and never shrinks: a 16 KB
 * block written whole keeps ~22 KB per connection for its lifetime, as two 8 KB records ~11 KB.
 * (Smaller pieces do not help: node:stream's writev joins the ones queued behind the first.)
 */
const MAX_TLS_WRITE = 8192;
const EMPTY = new Uint8Array(0);
const noop = (): void => {};

type Phase = "handshake" | "open" | "closing" | "closed";

export class TlsConn implements TlsConnection {
  sessionId: Uint8Array = EMPTY;
  alpn: string | false = false;
  tlsVersion: TlsVersion = "TLSv1.3";
  peerCertificateChain: Uint8Array[] = [];
  onDrain: () => void = noop;
  onClose: () => void = noop;
  onWritten: (ok: boolean) => void = noop;
  /**
   * The write callback of node:tls: Writable calls it, in order, once the chunk went through
   * TLSSocket._write/_writev, i.e. once the TLS engine encrypted it (a chunk it could not take yet
   * stays referenced as its pending data until then). One function per connection, not per write.
   */
  private readonly written = (error?: Error | null): void => this.onWritten(error == null);

  private dataHandler: (chunk: Uint8Array) => void = noop;
  /** Data that arrived before the owner set onData (held, then delivered in order). */
  private early: Uint8Array[] | null = [];
  private earlyBytes = 0;
  private pausedForEarly = false;
  private phase: Phase = "handshake";
  private readonly duplex = new SocketDuplex();
  private readonly tls: TLSSocket;
  private secure = false;
  private handshakeBytes = 0;
  /** Why the TCP socket failed, if it did (e.g. connection refused). */
  private socketError: string | null = null;
  /** Peer → us: its Certificate; on the server also the client's TLS 1.3 Finished. */
  private incoming: RecordScanner | null;
  /** Us → peer (client only): our own TLS 1.3 Finished. */
  private outgoing: RecordScanner | null;
  private timer: ReturnType<typeof setTimeout> | null;

  constructor(private readonly setup: TlsSetup) {
    const server = setup.side === "server";
    this.incoming = new RecordScanner({ certificate: !server || setup.requestCert === true, finished: server });
    this.outgoing = server ? null : new RecordScanner({ certificate: false, finished: true });
    if (this.outgoing !== null) this.duplex.onOutgoing = (chunk) => this.outgoing?.feed(chunk);
    this.tls = new TLSSocket(this.duplex, {
      isServer: server,
      secureContext: setup.secureContext,
      requestCert: server ? setup.requestCert === true : undefined,
      rejectUnauthorized: false, // chains are checked by checkPeerChain, as the reference's hooks do
      ALPNCallback: server ? (info: { protocols: string[] }) => setup.alpnCallback?.(info.protocols) : undefined,
      ALPNProtocols: server ? undefined : setup.alpnProtocols,
    } as ConstructorParameters<typeof TLSSocket>[1]);
    this.tls.on("keylog", (line: Uint8Array) => this.onKeylog(line));
    this.tls.on("secure", () => this.onSecure());
    this.tls.on("data", (chunk: Uint8Array) => this.onTlsData(chunk));
    // TLS drains into the duplex at once: only a drain of the duplex means the peer is reading.
    this.tls.on("drain", () => {
      if (!this.duplex.congested) this.onDrain();
    });
    this.duplex.on("drain", () => this.onDrain());
    this.tls.on("end", () => this.close());
    this.tls.on("error", (e: Error) => this.finish(e.message));
    this.tls.on("close", () => this.finish(this.socketError ?? "closed"));
    this.timer = setTimeout(() => this.finish("TLS setup timeout"), setup.timeoutMs);
  }

  get closed(): boolean {
    return this.phase === "closed";
  }

  get onData(): (chunk: Uint8Array) => void {
    return this.dataHandler;
  }

  set onData(handler: (chunk: Uint8Array) => void) {
    this.dataHandler = handler;
    if (this.early !== null) queueMicrotask(() => this.flushEarly());
  }

  // ------------------------------------------------------------------ socket events (bun)

  attach(socket: Socket<unknown>): void {
    this.duplex.attach(socket);
  }

  socketData(chunk: Uint8Array): void {
    if (this.phase === "handshake") {
      this.handshakeBytes += chunk.length;
      if (this.handshakeBytes > this.setup.maxHandshakeBytes) {
        this.finish("too many bytes before the TLS handshake completed");
        return;
      }
      this.incoming?.feed(chunk);
    }
    this.duplex.fromSocket(chunk);
  }

  socketDrained(): void {
    this.duplex.socketDrained();
  }

  socketClosed(reason?: string): void {
    if (reason !== undefined) this.socketError = reason;
    const why = reason ?? "connection closed";
    this.duplex.socketClosed(why);
    // A peer that rejects our handshake closes right after its alert; let the TLS layer report
    // the alert (a better reason than the close) before settling on the socket's reason.
    if (this.phase === "handshake") setImmediate(() => this.finish(why));
    else this.finish(why);
  }

  // ------------------------------------------------------------------ public API

  write(bytes: Uint8Array): boolean {
    if (this.phase !== "open") {
      this.onWritten(false);
      return false;
    }
    let at = 0;
    for (; bytes.length - at > MAX_TLS_WRITE; at += MAX_TLS_WRITE) this.tls.write(bytes.subarray(at, at + MAX_TLS_WRITE));
    // Writable calls back in order: the last piece's callback means all pieces were encrypted.
    const accepted = this.tls.write(at === 0 ? bytes : bytes.subarray(at), this.written);
    return accepted && !this.duplex.congested;
  }

  pause(): void {
    this.tls.pause();
  }

  resume(): void {
    this.tls.resume();
  }

  close(): void {
    if (this.phase !== "open") {
      if (this.phase === "handshake") this.finish(this.socketError ?? "closed during TLS setup");
      return;
    }
    this.phase = "closing";
    this.timer = setTimeout(() => this.destroy(), GRACEFUL_CLOSE_MS);
    this.tls.end();
  }

  destroy(): void {
    this.finish("destroyed");
  }

  // ------------------------------------------------------------------ TLS events

  private onKeylog(line: Uint8Array): void {
    if (this.phase !== "handshake") return;
    const entry = parseKeylogLine(line);
    if (entry === null) return;
    const server = this.setup.side === "server";
    if (entry.label === CLIENT_HANDSHAKE_TRAFFIC_SECRET) (server ? this.incoming : this.outgoing)?.setSecret(entry.secret);
    else if (entry.label === SERVER_HANDSHAKE_TRAFFIC_SECRET && !server) this.incoming?.setSecret(entry.secret);
    this.tryOpen();
  }

  private onSecure(): void {
    if (this.phase !== "handshake") return;
    this.secure = true;
    this.tlsVersion = this.tls.getProtocol() === "TLSv1.2" ? "TLSv1.2" : "TLSv1.3";
    if (this.tlsVersion === "TLSv1.2") {
      // TLS 1.2 exposes the Finished messages; ours is getFinished, the peer's getPeerFinished.
      const finished = this.setup.side === "server" ? this.tls.getPeerFinished() : this.tls.getFinished();
      if (finished !== undefined) this.sessionId = new Uint8Array(finished);
      this.outgoing = null;
      if (this.setup.side === "server") this.incoming?.stop(); // its Certificate, if any, was in clear before this
    }
    this.tryOpen();
  }

  private onTlsData(chunk: Uint8Array): void {
    if (this.early === null) {
      this.dataHandler(chunk);
      return;
    }
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > EARLY_DATA_LIMIT && !this.pausedForEarly) {
      this.pausedForEarly = true;
      this.tls.pause();
    }
  }

  /** Opens the connection once everything is known, fails it when something never will be. */
  private tryOpen(): void {
    if (this.phase !== "handshake" || !this.secure) return;
    const server = this.setup.side === "server";
    if (this.tlsVersion === "TLSv1.3") {
      const finishedScanner = server ? this.incoming! : this.outgoing!;
      if (finishedScanner.finished === null) {
        if (finishedScanner.done) this.finish(`no TLS 1.3 Finished: ${finishedScanner.failed ?? "not seen"}`);
        return;
      }
      this.sessionId = finishedScanner.finished;
    } else if (this.sessionId.length === 0) {
      this.finish("no TLS Finished");
      return;
    }
    const certScanner = this.incoming!;
    let chain = certScanner.certificates;
    if (chain === null) {
      if (certScanner.failed !== null) return this.finish(`peer certificate: ${certScanner.failed}`);
      // TLS 1.3 client: the server's Certificate may still wait for its handshake secret
      if (!server && this.tlsVersion === "TLSv1.3" && !certScanner.done) return;
      chain = [];
    }
    const rejected = this.setup.checkPeerChain(chain);
    if (rejected !== null) return this.finish(`peer certificate rejected: ${rejected}`);
    this.peerCertificateChain = chain;
    const alpn = this.tls.alpnProtocol;
    this.alpn = typeof alpn === "string" && alpn.length > 0 ? alpn : false;
    this.phase = "open";
    this.clearTimer();
    this.incoming = null;
    this.outgoing = null;
    this.duplex.onOutgoing = null;
    this.tls.removeAllListeners("keylog");
    this.setup.ready(this);
  }

  private flushEarly(): void {
    const early = this.early;
    if (early === null) return;
    this.early = null;
    for (let i = 0; i < early.length && this.phase !== "closed"; i++) this.dataHandler(early[i]);
    if (this.pausedForEarly) {
      this.pausedForEarly = false;
      this.tls.resume();
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Idempotent end of the connection, whatever caused it. */
  private finish(reason: string): void {
    if (this.phase === "closed") return;
    const wasOpen = this.phase !== "handshake";
    this.phase = "closed";
    this.clearTimer();
    this.incoming = null;
    this.outgoing = null;
    this.duplex.onOutgoing = null;
    this.duplex.terminate();
    this.tls.destroy();
    if (wasOpen) this.onClose();
    else this.setup.failed(reason);
  }
}
