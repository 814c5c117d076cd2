/**
 * A small HTTP/1.1 server for the static site: GET and HEAD of files, keep-alive, nothing else.
 * It runs in the SMP server's process, so every resource a client can hold is bounded: header
 * bytes, time per request (slow clients), requests per connection, responses waiting for a
 * client that does not read (the stream is paused until they drain). HTTP/2 is not served.
 */
import type { Duplex } from "node:stream";
import { resolveStaticFile } from "./static-files.ts";

export interface HttpLimits {
  /** Request line + headers; larger → 431 and close. */
  maxHeaderBytes: number;
  /** Time from the connection (or the previous response) to a complete request head. */
  requestTimeoutMs: number;
  maxRequestsPerConnection: number;
}

export const HTTP_LIMITS: HttpLimits = { maxHeaderBytes: 8192, requestTimeoutMs: 10_000, maxRequestsPerConnection: 100 };

/** Sent with every response: the pages load nothing from elsewhere and run only /media scripts. */
const SECURITY_HEADERS =
  "X-Content-Type-Options: nosniff\r\n" +
  "Referrer-Policy: no-referrer\r\n" +
  "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n";

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  505: "HTTP Version Not Supported",
};

const CRLFCRLF = Buffer.from("\r\n\r\n");
const EMPTY = Buffer.alloc(0);

interface Request {
  method: string;
  target: string;
  keepAlive: boolean;
}

export class HttpSession {
  private buf: Buffer = EMPTY;
  private busy = false;
  private served = 0;
  private ended = false;
  /** The client sent FIN: answer what is being served, then close. */
  private peerEnded = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly stream: Duplex,
    private readonly root: string,
    private readonly limits: HttpLimits = HTTP_LIMITS,
  ) {
    stream.on("data", (chunk: Uint8Array) => this.onData(chunk));
    stream.on("end", () => {
      this.peerEnded = true;
      if (!this.busy) this.close();
    });
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
          if (this.buf.length > this.limits.maxHeaderBytes) this.fail(431);
          break;
        }
        if (end + 4 > this.limits.maxHeaderBytes) {
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
        const keepAlive = !this.peerEnded && req.keepAlive && this.served < this.limits.maxRequestsPerConnection;
        const kept = await this.respond(req, keepAlive);
        if (!kept || this.peerEnded) {
          this.close();
          break;
        }
        this.arm();
        if (this.stream.writableNeedDrain) await new Promise<void>((resolve) => this.stream.once("drain", resolve));
      }
    } finally {
      this.busy = false;
      if (this.peerEnded) this.close();
      else if (!this.ended) this.stream.resume();
    }
  }

  /** Answers one request; false when the connection must close after it. */
  private async respond(req: Request, keepAlive: boolean): Promise<boolean> {
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) {
      this.send(405, keepAlive, "text/plain; charset=utf-8", Buffer.from("Only GET and HEAD are served.\n"), false, "Allow: GET, HEAD\r\n");
      return keepAlive;
    }
    const r = await resolveStaticFile(this.root, req.target);
    let body: Uint8Array | null = null;
    if (!("status" in r)) body = await Bun.file(r.path).bytes().catch(() => null);
    if (body === null || "status" in r) {
      // A malformed path (400) ends the connection; a missing file (404) does not.
      const status = "status" in r ? r.status : 404;
      const kept = keepAlive && status === 404;
      this.send(status, kept, "text/plain; charset=utf-8", Buffer.from(`${REASONS[status]}\n`), head);
      return kept;
    }
    this.send(200, keepAlive, r.contentType, body, head, "Cache-Control: no-cache\r\n");
    return keepAlive;
  }

  private send(status: number, keepAlive: boolean, type: string, body: Uint8Array, headOnly: boolean, extra = ""): void {
    if (this.ended) return;
    const head =
      `HTTP/1.1 ${status} ${REASONS[status]}\r\n` +
      `Date: ${new Date().toUTCString()}\r\n` +
      `Content-Type: ${type}\r\n` +
      `Content-Length: ${body.length}\r\n` +
      extra +
      SECURITY_HEADERS +
      `Connection: ${keepAlive ? "keep-alive" : "close"}\r\n\r\n`;
    this.stream.write(Buffer.from(head, "latin1"));
    if (!headOnly && body.length > 0) this.stream.write(body);
  }

  /** An unusable request: answer it, then close (what follows it cannot be trusted). */
  private fail(status: number): void {
    this.send(status, false, "text/plain; charset=utf-8", Buffer.from(`${REASONS[status]}\n`), false);
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
function parseHead(head: string): Request | number {
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
