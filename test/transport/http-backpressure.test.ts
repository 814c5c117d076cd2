// Output backpressure of the HTTP responder (src/transport/http-responder.ts) over TLS: a client
// that pipelines many requests for large responses and does not read must not make the process
// buffer them all. Bun's TLSSocket drains as soon as it has handed its bytes to the pipe below it
// (socket-duplex.ts), however many wait there for the socket, so the session watches that pipe
// too. Before, all 40 responses (40 MB) were produced and held. No timing: the test waits until
// the session stalls (or has answered everything), then reads and counts.
import type { Socket } from "bun";
import { afterAll, expect, test } from "bun:test";
import { createSecureContext } from "node:tls";
import { HttpConnections } from "../../src/transport/http-listener.ts";
import type { HttpService } from "../../src/transport/http-responder.ts";
import { CertDir, serverCredentials } from "./tls/certs.ts";

const certs = new CertDir();
afterAll(() => certs.remove());

const REQUESTS = 40;
const BODY = new Uint8Array(1 << 20);

test("a client that pipelines requests and does not read stalls the session until it reads", async () => {
  const { credentials } = serverCredentials(certs);
  const tls = createSecureContext({ cert: credentials.certPem, key: credentials.keyPem });
  let answered = 0;
  const service: HttpService = {
    headers: "",
    respond: async () => {
      answered++;
      return { status: 200, contentType: "application/octet-stream", body: BODY };
    },
  };
  const conns = new HttpConnections(service, { maxConnections: 4, maxPerAddress: 4 }, { maxHeadBytes: 8192, requestTimeoutMs: 600_000, maxRequestsPerConnection: 1000 });
  const listener = conns.listen("127.0.0.1", 0, tls);
  let received = 0;
  let reading: (() => void) | null = null;
  let handshake!: () => void;
  const secured = new Promise<void>((r) => (handshake = r));
  const client: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: listener.port,
    tls: { rejectUnauthorized: false },
    socket: {
      handshake() {
        handshake();
      },
      data(_s, chunk) {
        received += chunk.length;
        reading?.();
      },
    },
  });
  try {
    // Not read (once TLS is up): the kernel's buffers fill, then the server's.
    await secured;
    client.pause();
    client.write("GET /x HTTP/1.1\r\nHost: a\r\n\r\n".repeat(REQUESTS));
    while (conns.stalled === 0 && answered < REQUESTS) await Bun.sleep(5);
    expect(conns.stalled).toBe(1);
    const stalledAt = answered;
    // What was answered is what the kernel and one pipe's worth hold, not all of it.
    expect(stalledAt).toBeLessThan(REQUESTS);
    // Reading lets it go on, to the last response.
    client.resume();
    const total = REQUESTS * BODY.length;
    while (received < total) await new Promise<void>((r) => (reading = r));
    expect(answered).toBe(REQUESTS);
    expect(conns.stalled).toBe(0);
  } finally {
    client.end();
    listener.stop(true);
  }
}, 60_000);

test("a client's FIN ends its connection (Bun closes on it): its place is given back", async () => {
  const service: HttpService = { headers: "", respond: async () => ({ status: 200, contentType: "text/plain", body: BODY }) };
  const conns = new HttpConnections(service, { maxConnections: 4, maxPerAddress: 4 }, { maxHeadBytes: 8192, requestTimeoutMs: 600_000, maxRequestsPerConnection: 1000 });
  const listener = conns.listen("127.0.0.1", 0, null);
  let closed!: () => void;
  const gone = new Promise<void>((r) => (closed = r));
  let received = 0;
  const client = await Bun.connect({ hostname: "127.0.0.1", port: listener.port, socket: { data: (_s, d) => void (received += d.length), close: () => closed() } });
  try {
    client.write("GET /x HTTP/1.1\r\nHost:");
    while (conns.open === 0) await Bun.sleep(5);
    client.shutdown();
    // The server closes (a wait for the event: a connection held on would time the test out).
    await gone;
    expect(received).toBe(0);
    while (conns.open > 0) await Bun.sleep(5);
  } finally {
    client.end();
    listener.stop(true);
  }
});
