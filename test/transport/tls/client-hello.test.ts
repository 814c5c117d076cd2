// SNI detection on a port shared by SMP and the web site (client-hello.ts), on ClientHellos
// produced by a real TLS stack (node:tls) with and without SNI.
import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { sniVerdict } from "../../../src/transport/tls/client-hello.ts";

/** The first TLS record a node:tls client sends (its ClientHello), captured by a raw TCP server. */
async function captureHello(servername: string | undefined, alpn?: string[]): Promise<Uint8Array> {
  let resolve!: (b: Uint8Array) => void;
  const got = new Promise<Uint8Array>((r) => (resolve = r));
  let buf = new Uint8Array(0);
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, chunk) {
        const next = new Uint8Array(buf.length + chunk.length);
        next.set(buf);
        next.set(chunk, buf.length);
        buf = next;
        if (buf.length >= 5 && buf.length >= 5 + ((buf[3]! << 8) | buf[4]!)) {
          resolve(buf);
          socket.end();
        }
      },
    },
  });
  const c = connect({ host: "127.0.0.1", port: server.port, ...(servername !== undefined && { servername }), ...(alpn && { ALPNProtocols: alpn }), rejectUnauthorized: false });
  c.on("error", () => {});
  const hello = await got;
  c.destroy();
  server.stop(true);
  return hello;
}

/** The same handshake message re-cut into records of at most `size` bytes (RFC 8446 §5.1 allows it). */
function refragment(record: Uint8Array, size: number): Uint8Array {
  const body = record.subarray(5);
  const out: number[] = [];
  for (let at = 0; at < body.length; at += size) {
    const part = body.subarray(at, Math.min(body.length, at + size));
    out.push(22, record[1]!, record[2]!, part.length >> 8, part.length & 0xff, ...part);
  }
  return Uint8Array.from(out);
}

describe("sniVerdict on real ClientHellos", () => {
  test("with SNI (a browser, `servername`) → sni; without (SMP clients, IP hosts) → no-sni", async () => {
    expect(sniVerdict(await captureHello("smp.example.com"))).toBe("sni");
    expect(sniVerdict(await captureHello("localhost", ["http/1.1"]))).toBe("sni");
    expect(sniVerdict(await captureHello(undefined))).toBe("no-sni");
    expect(sniVerdict(await captureHello(undefined, ["smp/1"]))).toBe("no-sni");
  });

  test("every incomplete prefix waits for more; the hello split over records is reassembled", async () => {
    const hello = await captureHello("smp.example.com");
    for (let n = 0; n < hello.length; n++) expect(sniVerdict(hello.subarray(0, n))).toBe("more");
    const split = refragment(hello, 100);
    expect(split.length).toBeGreaterThan(hello.length);
    for (let n = 0; n < split.length; n += 7) expect(sniVerdict(split.subarray(0, n))).toBe("more");
    expect(sniVerdict(split)).toBe("sni");
    expect(sniVerdict(refragment(await captureHello(undefined), 64))).toBe("no-sni");
  });

  test("anything that is not a ClientHello goes to SMP unchanged (no-sni)", () => {
    expect(sniVerdict(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe("no-sni");
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 0))).toBe("no-sni"); // empty record
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 4, 2, 0, 0, 0))).toBe("no-sni"); // a ServerHello
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 4, 1, 0, 0, 0))).toBe("no-sni"); // empty hello body
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff))).toBe("no-sni"); // 16 MB hello
  });
});
