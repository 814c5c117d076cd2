// SNI detection on a port shared by SMP and the web site (client-hello.ts), on ClientHellos
// produced by a real TLS stack (node:tls) with and without SNI.
import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { HelloReader, MAX_CLIENT_HELLO, MAX_HELLO_RECORDS, sniVerdict } from "../../../src/transport/tls/client-hello.ts";

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
    const plain = await captureHello(undefined);
    expect(sniVerdict(refragment(plain, Math.ceil(plain.length / MAX_HELLO_RECORDS)))).toBe("no-sni");
    expect(sniVerdict(refragment(plain, Math.floor(plain.length / (MAX_HELLO_RECORDS + 1))))).toBe("refuse");
  });

  test("anything that is not a ClientHello goes to SMP unchanged (no-sni)", () => {
    expect(sniVerdict(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))).toBe("no-sni");
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 0))).toBe("no-sni"); // empty record
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 4, 2, 0, 0, 0))).toBe("no-sni"); // a ServerHello
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 4, 1, 0, 0, 0))).toBe("no-sni"); // empty hello body
    expect(sniVerdict(Uint8Array.of(22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff))).toBe("no-sni"); // 16 MB hello
  });
});

/** A ClientHello header announcing `bodyLen` bytes (zeros after the header), cut into records of `size` payload bytes. */
function announcedHello(bodyLen: number, size: number): Uint8Array {
  const msg = new Uint8Array(4 + bodyLen);
  msg.set([1, bodyLen >> 16, (bodyLen >> 8) & 0xff, bodyLen & 0xff]);
  return refragment(Uint8Array.from([22, 3, 1, msg.length >> 8, msg.length & 0xff, ...msg]), size);
}

describe("HelloReader: each byte read once, however the hello is cut", () => {
  test("a hello cut into 1-byte records (6 bytes each on the wire) is refused after MAX_HELLO_RECORDS, not gathered to 64 KB", () => {
    const wire = announcedHello(MAX_CLIENT_HELLO - 8, 1);
    const r = new HelloReader();
    let fed = 0;
    let verdict = "more";
    while (verdict === "more" && fed < wire.length) {
      verdict = r.push(wire.subarray(fed, fed + 1)); // one byte per read: the slow sender
      fed++;
    }
    expect(verdict).toBe("refuse");
    expect(fed).toBe(6 * (MAX_HELLO_RECORDS + 1));
    expect(r.push(Uint8Array.of(0))).toBe("refuse"); // decided once
  });

  test("the work is linear in the bytes received: a 32 KB hello in 16 records fed one byte per read", () => {
    const body = MAX_CLIENT_HELLO - 4;
    const wire = announcedHello(body, Math.ceil((body + 4) / MAX_HELLO_RECORDS));
    const r = new HelloReader();
    let verdict = "more";
    for (let i = 0; i < wire.length; i++) {
      verdict = r.push(wire.subarray(i, i + 1));
      if (i < wire.length - 1) expect(verdict).toBe("more");
    }
    expect(verdict).toBe("no-sni"); // all zeros after the header: no extensions
    expect(r.bytes).toEqual(wire); // handed on unchanged
    // Each byte: copied in (1), moved when the buffer doubles (< 2 in total, amortised), gathered
    // into the hello (1), scanned for SNI (1). Re-parsing and re-copying everything on every read,
    // as before, costs ~wire.length² / 2 (≈ 5·10⁸ here).
    expect(r.work).toBeLessThanOrEqual(6 * wire.length);
  });

  test("a real hello fed in pieces gives the same verdict and bytes as whole", async () => {
    for (const name of ["smp.example.com", undefined]) {
      const split = refragment(await captureHello(name), 128);
      const r = new HelloReader();
      let verdict = "more";
      for (let i = 0; i < split.length; i += 5) verdict = r.push(split.subarray(i, i + 5));
      expect(verdict).toBe(name === undefined ? "no-sni" : "sni");
      expect(r.bytes).toEqual(split);
    }
  });
});
