/**
 * A small HTTP/1.1 responder for what runs beside SMP in its process (the static site, the
 * metrics endpoint): requests without a body, keep-alive, nothing else. Every resource a client
 * can hold is bounded: header bytes, time per request (slow clients), requests per connection,
 * responses waiting for a client that does not read (the stream is paused until they drain).
 * HTTP/2 is not served. What is answered is the service's (HttpService); framing, bounds and
 * refusals of malformed requests are here.
 */
import type { Duplex } from "node:stream";

export interface HttpLimits {
  /** Request line + headers; larger → 431 and close. */
  maxHeadBytes: number;
  /** Time from the connection (or the previous response) to a complete request head. */
  requestTimeoutMs: number;
  maxRequestsPerConnection: number;
}

export interface HttpRequest {
  method: string;
  target: string;
  keepAlive: boolean;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  body: Uint8Array;
  /** Header lines of this response, each ending in CRLF. */
  headers?: string;
  /** Close the connection after it, even when the client would keep it. */
  close?: boolean;
}

export interface HttpService {
  /** Header lines sent with every response, each ending in CRLF. */
  readonly headers: string;
  /** A HEAD request gets the same response without its body. */
  respond(req: HttpRequest): Promise<HttpResponse>;
}

const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** A plain-text response (the reason phrase when no text is given). */
export function textResponse(status: number, text = `${REASONS[status]}\n`, headers?: string): HttpResponse {
  return { status, contentType: "text/plain; charset=utf-8", body: Buffer.from(text, "utf8"), headers };
}

/**
 * Where the session learns that its output waits for the client: the byte pipe under TLS (the
 * raw socket side), whose `congested` and 'drain' are the truth — Bun's TLSSocket never sets
 * `writableNeedDrain` on its own side.
 */
export interface HttpOutput {
  readonly congested: boolean;
  once(event: "drain", listener: () => void): unknown;
}

/** Sessions waiting for their client to read (shared by a listener's sessions). */
export interface StallCounter {
  stalled: number;
}

const CRLFCRLF = Buffer.from("\r\n\r\n");
const EMPTY = Buffer.alloc(0);

export class HttpSession {
  private buf: Buffer = EMPTY;
  private busy = false;
  private served = 0;
  private ended = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly stream: Duplex,
    private readonly service: HttpService,
    private readonly limits: HttpLimits,
    /** The raw output under `stream` when it is TLS; null: `stream` itself reports it. */
    private readonly output: HttpOutput | null = null,
    private readonly stalls: StallCounter | null = null,
  ) {
    stream.on("data", (chunk: Uint8Array) => this.onData(chunk));
    // The client's FIN: Bun closes the socket on it (listeners are not half-open), so nothing
    // more can be written; what was asked goes unanswered.
    stream.on("end", () => this.finish());
    stream.on("error", () => this.finish());
    stream.on("close", () => this.finish());
    this.arm();
  }

  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.finish(), this.limits.requestTimeoutMs);
  }

  private onData(chunk: Uint8Array): void {
    if (this.ended) return;
    this.buf = this.buf.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buf, chunk]);
    if (!this.busy) void this.next();
  }

  /** Serves the requests that are complete in the buffer, one at a time. */
  private async next(): Promise<void> {
    this.busy = true;
    this.stream.pause();
    try {
      while (!this.ended) {
        const end = this.buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (this.buf.length > this.limits.maxHeadBytes) this.fail(431);
          break;
        }
        if (end + 4 > this.limits.maxHeadBytes) {
          this.fail(431);
          break;
        }
        const head = this.buf.toString("latin1", 0, end);
        this.buf = this.buf.subarray(end + 4);
        const req = parseHead(head);
        if (typeof req === "number") {
          this.fail(req);
          break;
        }
        this.served++;
        const keepAlive = req.keepAlive && this.served < this.limits.maxRequestsPerConnection;
        const kept = await this.respond(req, keepAlive);
        if (!kept) {
          this.close();
          break;
        }
        this.arm();
        await this.drained();
      }
    } finally {
      this.busy = false;
      if (!this.ended) this.stream.resume();
    }
  }

  /**
   * Waits until the client has taken what was sent (the connection's end never resolves it):
   * first the stream's own buffer (TLS hands its plaintext on in a later tick), then, under TLS,
   * the encrypted bytes the socket has not taken — TLSSocket reports drained once they are
   * handed on, however many wait below it.
   */
  private async drained(): Promise<void> {
    for (;;) {
      if (this.ended) return;
      if (this.stream.writableNeedDrain) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
      else if (this.output?.congested === true) {
        if (this.stalls !== null) this.stalls.stalled++;
        try {
          await new Promise<void>((resolve) => this.output!.once("drain", resolve));
        } finally {
          if (this.stalls !== null) this.stalls.stalled--;
        }
      } else return;
    }
  }

  /** Answers one request; false when the connection must close after it. */
  private async respond(req: HttpRequest, keepAlive: boolean): Promise<boolean> {
    let r: HttpResponse;
    try {
      r = await this.service.respond(req);
    } catch {
      this.finish(); // a service that fails has no answer: the client sees the connection end
      return false;
    }
    const kept = keepAlive && r.close !== true;
    this.send(r, kept, req.method === "HEAD");
    return kept;
  }

  private send(r: HttpResponse, keepAlive: boolean, headOnly: boolean): void {
    if (this.ended) return;
    const head =
      `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? ""}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n` +
      `Content-Type: ${r.contentType}\r\n` +
      `Content-Length: ${r.body.length}\r\n` +
      (r.headers ?? "") +
      this.service.headers +
      `Connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
    this.stream.write(Buffer.from(head, "latin1"));
    if (!headOnly && r.body.length > 0) this.stream.write(r.body);
  }

  /** An unusable request: answer it, then close (what follows it cannot be trusted). */
  private fail(status: number): void {
    this.send(textResponse(status), false, false);
    this.close();
  }

  private close(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.buf = EMPTY;
    this.stream.end();
    // A client that never reads must not keep the connection: force it after the timeout.
    this.timer = setTimeout(() => this.stream.destroy(), this.limits.requestTimeoutMs);
  }

  private finish(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.ended = true;
    this.buf = EMPTY;
    if (!this.stream.destroyed) this.stream.destroy();
  }
}

/** Request line and the headers that matter; a status for what is refused. */
function parseHead(head: string): HttpRequest | number {
  const lines = head.split("\r\n");
  const parts = lines[0]!.split(" ");
  if (parts.length !== 3 || !/^[A-Z]+$/.test(parts[0]!)) return 400;
  const [method, target, version] = parts as [string, string, string];
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") return /^HTTP\/\d/.test(version) ? 505 : 400;
  let connection = "";
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0 || /[\s]/.test(line[colon - 1]!)) return 400;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    // Bodies are never read: a request announcing one cannot be framed, so it ends the connection.
    if (name === "transfer-encoding" || (name === "content-length" && value !== "0")) return 400;
    if (name === "connection") connection = value.toLowerCase();
  }
  const keepAlive = version === "HTTP/1.1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { method, target, keepAlive };
}
