/**
 * TlsConnection.onWritten(true) must mean "the TLS layer holds no reference to that write's
 * bytes": outgoing blocks are recycled on it. Each test overwrites every buffer the moment
 * onWritten(true) reports it and checks the peer still receives the original bytes — in one
 * burst (node:tls buffers the later writes of a tick), and against a paused reader (the stream
 * under TLS backs up).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sha256 } from "../../../src/crypto/digest.ts";
import { connectTLS, type TlsConnection } from "../../../src/transport/tls/index.ts";
import { CertDir, serverCredentials } from "./certs.ts";
import { startEchoServer, type EchoServer } from "./harness.ts";

const BLOCK = 16384;
let certs: CertDir;
let srv: EchoServer;
let keyHash: Uint8Array;

beforeAll(() => {
  certs = new CertDir();
  const s = serverCredentials(certs);
  srv = startEchoServer({ credentials: s.credentials, tlsSetupTimeoutMs: 2000 });
  keyHash = sha256(s.ca.der);
});

afterAll(() => {
  srv.stop();
  certs.remove();
});

/** Block i is filled with (i * 7 + 1) & 0xff; clobbered buffers become 0xee. */
const fillOf = (i: number): number => (i * 7 + 1) & 0xff;

async function sendClobbering(count: number, pauseReader: boolean): Promise<{ wrongBlocks: number; consumed: number; failed: number }> {
  const next = srv.nextConnection();
  const client = await connectTLS({ host: "127.0.0.1", port: srv.port, keyHash });
  const serverSide = await next;
  const inFlight: Uint8Array[] = [];
  let consumed = 0;
  let failed = 0;
  client.onWritten = (ok) => {
    const b = inFlight.shift()!;
    if (ok) {
      b.fill(0xee); // what a recycled buffer's next use does
      consumed++;
    } else failed++;
  };
  const received = new Uint8Array(count * BLOCK);
  let got = 0;
  const all = new Promise<void>((resolve) => {
    serverSide.onData = (chunk) => {
      received.set(chunk, got);
      got += chunk.length;
      if (got === received.length) resolve();
    };
  });
  if (pauseReader) serverSide.pause();
  for (let i = 0; i < count; i++) {
    const b = new Uint8Array(BLOCK).fill(fillOf(i));
    inFlight.push(b);
    client.write(b); // ignore backpressure on purpose: the most data held below us
  }
  if (pauseReader) {
    await Bun.sleep(200);
    serverSide.resume();
  }
  await all;
  let wrongBlocks = 0;
  for (let i = 0; i < count; i++) {
    const v = fillOf(i);
    const blk = received.subarray(i * BLOCK, (i + 1) * BLOCK);
    if (!blk.every((x) => x === v)) wrongBlocks++;
  }
  client.close();
  return { wrongBlocks, consumed, failed };
}

test("a burst of writes: every buffer reported consumed, none clobbered on the wire", async () => {
  const r = await sendClobbering(64, false);
  expect(r.wrongBlocks).toBe(0);
  expect(r.failed).toBe(0);
  expect(r.consumed).toBe(64);
});

test("a paused reader (TLS and the socket below it back up): still no clobbered block", async () => {
  const r = await sendClobbering(400, true); // 6.5 MB, beyond the socket buffers and high-water marks
  expect(r.wrongBlocks).toBe(0);
  expect(r.failed).toBe(0);
  expect(r.consumed).toBe(400);
});

test("a write after close is reported not consumed", async () => {
  const next = srv.nextConnection();
  const client: TlsConnection = await connectTLS({ host: "127.0.0.1", port: srv.port, keyHash });
  await next;
  const reports: boolean[] = [];
  client.onWritten = (ok) => reports.push(ok);
  client.destroy();
  expect(client.write(new Uint8Array(10))).toBe(false);
  expect(reports).toEqual([false]);
});
