/**
 * The static site as an HTTP service (transport/http-responder.ts): GET and HEAD of files under
 * `[WEB] static_path`, with the connection bounds of the web side.
 */
import { HttpConnections } from "../transport/http-listener.ts";
import { textResponse, type HttpLimits, type HttpRequest, type HttpResponse, type HttpService } from "../transport/http-responder.ts";
import { resolveStaticFile } from "./static-files.ts";

export const HTTP_LIMITS: HttpLimits = { maxHeadBytes: 8192, requestTimeoutMs: 10_000, maxRequestsPerConnection: 100 };

/** Simultaneous web connections over all web listeners (the SMP connections are not counted here). */
export const MAX_WEB_CONNECTIONS = 256;
/** …and from one address (an IPv6 /64 as one), so that one client cannot take all of them. */
export const MAX_WEB_CONNECTIONS_PER_ADDRESS = 16;

/** Sent with every response: the pages load nothing from elsewhere and run only /media scripts. */
const SECURITY_HEADERS =
  "X-Content-Type-Options: nosniff\r\n" +
  "Referrer-Policy: no-referrer\r\n" +
  "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'\r\n";

export class StaticSite implements HttpService {
  readonly headers = SECURITY_HEADERS;

  constructor(private readonly root: string) {}

  async respond(req: HttpRequest): Promise<HttpResponse> {
    if (req.method !== "GET" && req.method !== "HEAD") return textResponse(405, "Only GET and HEAD are served.\n", "Allow: GET, HEAD\r\n");
    const r = await resolveStaticFile(this.root, req.target);
    // A malformed path (400) ends the connection; a missing file (404) does not.
    if ("status" in r) return { ...textResponse(r.status), close: r.status !== 404 };
    const body = await Bun.file(r.path).bytes().catch(() => null);
    if (body === null) return textResponse(404);
    return { status: 200, contentType: r.contentType, body, headers: "Cache-Control: no-cache\r\n" };
  }
}

/**
 * The connections of all web listeners under one bound, and one per client address (a host picks
 * any address in its /64, so the /64 is what one client holds). Loopback peers are bounded too.
 */
export function webConnections(
  root: string,
  maxConnections: number = MAX_WEB_CONNECTIONS,
  limits: HttpLimits = HTTP_LIMITS,
  maxPerAddress: number = MAX_WEB_CONNECTIONS_PER_ADDRESS,
): HttpConnections {
  return new HttpConnections(new StaticSite(root), { maxConnections, maxPerAddress, limitLoopback: true }, limits);
}
