/**
 * `[PROMETHEUS] http`: GET /metrics over plain HTTP for a Prometheus scraper (the reference only
 * writes a file). Meant for 127.0.0.1 or a private network: it has no authentication.
 *
 * Served by the responder the web site uses (transport/http-responder.ts) on a bounded listener
 * (transport/http-listener.ts): at most MAX_METRICS_CONNECTIONS are held (more are closed at
 * accept), each for one request (`Connection: close`, which scrapers handle) with a bounded head
 * and a deadline from accept to the complete request.
 */
import { HttpConnections } from "../../transport/http-listener.ts";
import { textResponse, type HttpRequest, type HttpResponse, type HttpService } from "../../transport/http-responder.ts";

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

class MetricsService implements HttpService {
  readonly headers = "";

  constructor(private readonly text: () => Promise<string>) {}

  async respond(req: HttpRequest): Promise<HttpResponse> {
    const q = req.target.indexOf("?");
    const path = q < 0 ? req.target : req.target.slice(0, q);
    if (path !== "/metrics") return textResponse(404, "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") return textResponse(405, "method not allowed\n", "Allow: GET, HEAD\r\n");
    let body: string;
    try {
      body = await this.text();
    } catch (e) {
      return textResponse(503, `metrics unavailable: ${(e as Error).message}\n`);
    }
    return { status: 200, contentType: METRICS_CONTENT_TYPE, body: Buffer.from(body, "utf8") };
  }
}

export function startMetricsHttp(at: { host: string; port: number }, text: () => Promise<string>, limits: MetricsHttpLimits = LIMITS): MetricsHttp {
  const conns = new HttpConnections(
    new MetricsService(text),
    { maxConnections: limits.maxConnections, maxPerAddress: 0 },
    { maxHeadBytes: limits.maxHeadBytes, requestTimeoutMs: limits.requestTimeoutMs, maxRequestsPerConnection: 1 },
  );
  const listener = conns.listen(at.host, at.port, null);
  return {
    port: listener.port,
    get open() {
      return conns.open;
    },
    stop: () => listener.stop(true),
  };
}
