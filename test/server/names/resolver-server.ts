// A resolver served by the test itself on 127.0.0.1 (tests/NamesResolverServer.hs:withResolverServer): fixed
// answers per path, every request recorded. Nothing here reaches any other host.
import type { NamesConfig } from "../../../src/server/names/config.ts";

export interface Answer {
  status: number;
  body?: string | Uint8Array | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  delayMs?: number;
  /** Answer only once this settles (a resolver that is slow for exactly as long as the test wants). */
  until?: Promise<unknown>;
}

export interface RecordedRequest {
  /** Path segments after the endpoint's prefix, percent-decoded (Warp's pathInfo). */
  segments: string[];
  rawPath: string;
  headers: Record<string, string | undefined>;
}

export interface TestResolver {
  port: number;
  url: string;
  requests: RecordedRequest[];
  stop(): void;
}

/** tests/NamesResolverServer.hs:resolveResp — /health 200 "{}", /resolve/* the given answer, anything else 404. */
export function resolveResp(answer: Answer): (segments: string[]) => Answer {
  return (segments) => {
    if (segments.length === 1 && segments[0] === "health") return { status: 200, body: "{}" };
    if (segments[0] === "resolve") return answer;
    return { status: 404, body: "{}" };
  };
}

/** `port`: 0 = any free one; a given one brings a stopped resolver back at its address. */
export function startResolver(handler: (segments: string[]) => Answer, prefix = "", port = 0): TestResolver {
  const requests: RecordedRequest[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(req) {
      const rawPath = new URL(req.url).pathname;
      const rel = rawPath.startsWith(prefix) ? rawPath.slice(prefix.length) : rawPath;
      const segments = rel.split("/").filter((s) => s !== "").map(decodeURIComponent);
      requests.push({ segments, rawPath, headers: Object.fromEntries(req.headers) });
      const a = handler(segments);
      if (a.delayMs) await Bun.sleep(a.delayMs);
      if (a.until) await a.until;
      return new Response(a.body ?? "", { status: a.status, headers: { "content-type": "application/json", ...a.headers } });
    },
  });
  return { port: server.port!, url: `http://127.0.0.1:${server.port}${prefix}`, requests, stop: () => server.stop(true) };
}

/** tests/NamesResolverServer.hs:testNamesConfig. */
export function testNamesConfig(url: string, overrides: Partial<NamesConfig> = {}): NamesConfig {
  return { resolverEndpoint: url, resolverTimeoutMs: 1000, resolverMaxResponseBytes: 65536, resolverConcurrency: 1000, ...overrides };
}

/** tests/SMPNamesTests.hs:testNameRecord, as `J.encode` writes it. */
export const TEST_NAME_RECORD_JSON =
  '{"name":"alice.simplex","nickname":"Alice","website":"https://alice.example","location":"Earth",' +
  '"simplexContact":["simplex:/contact/abc#xyz"],"simplexChannel":[],"eth":"0x0000000000000000000000000000000000000001",' +
  '"btc":null,"xmr":null,"dot":null,"owner":"0x0101010101010101010101010101010101010101",' +
  '"resolver":"0x0202020202020202020202020202020202020202"}';
