/**
 * `[PROMETHEUS] http`: GET /metrics over plain HTTP for a Prometheus scraper (the reference only
 * writes a file). Meant for 127.0.0.1 or a private network: it has no authentication.
 *
 * A raw listener rather than Bun.serve: Bun.serve accepts every connection and cannot be told
 * how many to hold, so unfinished requests could take all the process's file descriptors and
 * SMP would stop accepting. Here at most MAX_METRICS_CONNECTIONS are held (more are closed at
 * accept), each for one request (`Connection: close`, which scrapers handle) with a bounded head
 * and a deadline from accept to the complete request.
 */
export interface MetricsHttp {
  readonly port: number;
  /** Connections held now (closed ones and those refused at accept excluded). */
  readonly open: number;
  stop(): void;
}

/** The exposition format's content type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Connections held at once; a scraper needs one. Reserved from the fd limit (connectionBound). */
export const MAX_METRICS_CONNECTIONS = 16;

export interface MetricsHttpLimits {
  maxConnections: number;
  /** Request line + headers; more → 431. */
  maxHeadBytes: number;
  /** From accept to a complete request head; then the connection is closed. */
  requestTimeoutMs: number;
}

const LIMITS: MetricsHttpLimits = { maxConnections: MAX_METRICS_CONNECTIONS, maxHeadBytes: 8192, requestTimeoutMs: 10_000 };

interface Conn {
  /** Counted against maxConnections (false for one closed at accept). */
  held: boolean;
  head: string;
  answered: boolean;
  /** Response bytes the socket did not take yet. */
  pending: Uint8Array | null;
  timer: ReturnType<typeof setTimeout> | null;
}

type Sock = import("bun").Socket<Conn>;

const REASONS: Record<number, string> = { 200: "OK", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large", 503: "Service Unavailable" };

function send(s: Sock, status: number, body: string, headers = "", withBody = true): void {
  const b = Buffer.from(body, "utf8");
  const head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n${headers}content-length: ${b.length}\r\nconnection: close\r\n\r\n`;
  const all = withBody ? Buffer.concat([Buffer.from(head, "latin1"), b]) : Buffer.from(head, "latin1");
  write(s, all);
}

/** Writes what the socket takes and keeps the rest for drain; ends the connection when all is out. */
function write(s: Sock, bytes: Uint8Array): void {
  const n = s.write(bytes);
  if (n < bytes.length) s.data.pending = bytes.subarray(Math.max(0, n));
  else {
    s.data.pending = null;
    s.end();
  }
}

async function answer(s: Sock, head: string, text: () => Promise<string>): Promise<void> {
  const [method = "", target = ""] = head.slice(0, head.indexOf("\r\n")).split(" ");
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  if (path !== "/metrics") return send(s, 404, "not found\n");
  if (method !== "GET" && method !== "HEAD") return send(s, 405, "method not allowed\n", "allow: GET, HEAD\r\n");
  let body: string;
  try {
    body = await text();
  } catch (e) {
    return send(s, 503, `metrics unavailable: ${(e as Error).message}\n`);
  }
  send(s, 200, body, `content-type: ${METRICS_CONTENT_TYPE}\r\n`, method === "GET");
}

export function startMetricsHttp(at: { host: string; port: number }, text: () => Promise<string>, limits: MetricsHttpLimits = LIMITS): MetricsHttp {
  let open = 0;
  const release = (s: Sock) => {
    if (s.data.timer !== null) clearTimeout(s.data.timer);
    s.data.timer = null;
    if (s.data.held) open--;
    s.data.held = false;
  };
  const listener = Bun.listen<Conn>({
    hostname: at.host,
    port: at.port,
    socket: {
      open(s) {
        s.data = { held: false, head: "", answered: false, pending: null, timer: null };
        if (open >= limits.maxConnections) {
          s.terminate();
          return;
        }
        open++;
        s.data.held = true;
        s.data.timer = setTimeout(() => s.terminate(), limits.requestTimeoutMs);
      },
      data(s, chunk) {
        const c = s.data;
        if (c.answered || !c.held) return;
        c.head += Buffer.from(chunk).toString("latin1");
        const end = c.head.indexOf("\r\n\r\n");
        if (end < 0 && c.head.length <= limits.maxHeadBytes) return;
        // The deadline stays: it also bounds a response the client does not read.
        c.answered = true;
        if (end < 0 || end > limits.maxHeadBytes) return send(s, 431, "request header fields too large\n");
        void answer(s, c.head.slice(0, end + 2), text).catch(() => s.terminate());
        c.head = "";
      },
      drain(s) {
        if (s.data.pending !== null) write(s, s.data.pending);
      },
      close: release,
      error(s) {
        release(s);
      },
    },
  });
  return {
    port: listener.port,
    get open() {
      return open;
    },
    stop: () => listener.stop(true),
  };
}
