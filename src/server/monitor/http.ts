/**
 * `[PROMETHEUS] http`: GET /metrics over plain HTTP for a Prometheus scraper (the reference only
 * writes a file). Meant for 127.0.0.1 or a private network: it has no authentication.
 */
export interface MetricsHttp {
  readonly port: number;
  stop(): void;
}

/** The exposition format's content type (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export function startMetricsHttp(at: { host: string; port: number }, text: () => Promise<string>): MetricsHttp {
  const server = Bun.serve({
    hostname: at.host,
    port: at.port,
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname !== "/metrics") return new Response("not found\n", { status: 404 });
      if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
      try {
        return new Response(await text(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
      } catch (e) {
        return new Response(`metrics unavailable: ${(e as Error).message}\n`, { status: 503 });
      }
    },
    error() {
      return new Response("internal error\n", { status: 500 });
    },
  });
  return {
    port: server.port ?? at.port,
    stop: () => void server.stop(true),
  };
}
