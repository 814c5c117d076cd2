// The names role end to end against a resolver served by this test on 127.0.0.1:
// tests/SMPNamesTests.hs:resolverSpec/healthSpec, Server/Names.hs:mapResolverError, Server.hs:resolveNameMsg stats.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ErrorType } from "../../../src/protocol/errors.ts";
import {
  NamesStartupError,
  NamesStats,
  createNamesService,
  describeNamesConfig,
  noResolverReply,
  type NamesReply,
  type NamesService,
} from "../../../src/server/names/index.ts";
import { setLogSink } from "../../../src/util/log.ts";
import { TEST_NAME_RECORD_JSON, resolveResp, startResolver, testNamesConfig, type Answer, type TestResolver } from "./resolver-server.ts";

const logLines: string[] = [];
let prevSink: (line: string) => void;
beforeAll(() => {
  prevSink = setLogSink((l) => logLines.push(l));
});
afterAll(() => {
  setLogSink(prevSink);
});

const open: { stop(): void }[] = [];
afterAll(() => {
  for (const o of open) o.stop();
});

function resolver(handler: (segments: string[]) => Answer, prefix = ""): TestResolver {
  const r = startResolver(handler, prefix);
  open.push(r);
  return r;
}

async function service(r: TestResolver, overrides: Parameters<typeof testNamesConfig>[1] = {}, stats?: NamesStats): Promise<NamesService> {
  const s = await createNamesService(testNamesConfig(r.url, overrides), stats ? { stats } : {});
  open.push({ stop: () => s.close() });
  return s;
}

/** A promise the test resolves when it chooses. */
function hold(): { released: Promise<void>; release(): void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  return { released, release };
}

/** Waits for a condition on counts; a hang is caught by the test's timeout. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await Bun.sleep(5);
}

const nameErr = (detail: string): NamesReply => ({ tag: "ERR", err: { type: "NAME", err: { type: "RESOLVER", err: detail } } as ErrorType });
const NOT_FOUND: NamesReply = { tag: "ERR", err: { type: "NAME", err: { type: "NOT_FOUND" } } as ErrorType };
const text = (r: NamesReply) => (r.tag === "RNAME" ? new TextDecoder().decode(r.json) : undefined);

describe("resolverSpec (tests/SMPNamesTests.hs) and mapResolverError (Server/Names.hs)", () => {
  test("returns RNAME with the record on 200 OK", async () => {
    const s = await service(resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON })));
    const r = await s.resolve("alice.simplex");
    expect(r.tag).toBe("RNAME");
    expect(text(r)).toBe(TEST_NAME_RECORD_JSON);
  });
  test("returns NOT_FOUND on 404 and on 400 (unknown TLD)", async () => {
    for (const status of [404, 400]) {
      const s = await service(resolver(resolveResp({ status, body: "{}" })));
      expect(await s.resolve("alice.simplex")).toEqual(NOT_FOUND);
    }
  });
  test("returns RESOLVER \"HTTP <code>\" on any other status ≥ 400", async () => {
    for (const status of [502, 500, 503, 401, 403, 418]) {
      const s = await service(resolver(resolveResp({ status, body: "{}" })));
      expect(await s.resolve("alice.simplex")).toEqual(nameErr(`HTTP ${status}`));
    }
  });
  test("returns RESOLVER when the body exceeds the response cap; exactly the cap is fine", async () => {
    const s = await service(resolver(resolveResp({ status: 200, body: "x".repeat(500) })), { resolverMaxResponseBytes: 100 });
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("response too large"));
    const n = TEST_NAME_RECORD_JSON.length;
    const exact = await service(resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON })), { resolverMaxResponseBytes: n });
    expect((await exact.resolve("alice.simplex")).tag).toBe("RNAME");
    const over = await service(resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON + " " })), { resolverMaxResponseBytes: n });
    expect(await over.resolve("alice.simplex")).toEqual(nameErr("response too large"));
  });
  test("an endless body is cut at the cap, not read to the end", async () => {
    let chunks = 0;
    let cancelled!: () => void;
    const dropped = new Promise<void>((r) => (cancelled = r));
    const endless = () =>
      new ReadableStream<Uint8Array>({
        async pull(c) {
          chunks++;
          c.enqueue(new Uint8Array(1024).fill(0x20));
          await Bun.sleep(1);
        },
        cancel() {
          cancelled();
        },
      });
    const r = resolver((seg) => (seg[0] === "health" ? { status: 200, body: "{}" } : { status: 200, body: endless() }));
    // "response too large", not "timeout": cut at the cap rather than read until the timer fires.
    const s = await service(r, { resolverMaxResponseBytes: 4096, resolverTimeoutMs: 30_000 });
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("response too large"));
    // The connection is dropped: the resolver's body stream is cancelled, and produces no more.
    await dropped;
    const after = chunks;
    await Bun.sleep(50);
    expect(chunks).toBe(after);
  });
  test("returns RESOLVER \"invalid response\" on malformed JSON, on a JSON that is not a NameRecord, on an empty body", async () => {
    for (const body of ["this is not json", "{}", ""]) {
      const s = await service(resolver(resolveResp({ status: 200, body })));
      expect(await s.resolve("alice.simplex")).toEqual(nameErr("invalid response"));
    }
    const s = await service(resolver(resolveResp({ status: 204 })));
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("invalid response"));
  });
  test("returns RESOLVER \"timeout\" when the resolver is slower than resolverTimeoutMs", async () => {
    // The resolver never answers, so only the timer can end the lookup; checked from below only.
    const never = hold();
    const r = resolver((seg) => (seg[0] === "health" ? { status: 200, body: "{}" } : { status: 200, body: TEST_NAME_RECORD_JSON, until: never.released }));
    const s = await service(r, { resolverTimeoutMs: 300 });
    const t0 = performance.now();
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("timeout"));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    never.release();
  });
  test("returns RESOLVER \"transport failure\" when nothing listens", async () => {
    const r = startResolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON }));
    const s = await service(r);
    r.stop();
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("transport failure"));
  });
  test("sends one HTTP request per lookup (no cache)", async () => {
    const r = resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON }));
    const s = await service(r);
    r.requests.length = 0;
    await s.resolve("alice.simplex");
    await s.resolve("alice.simplex");
    expect(r.requests.length).toBe(2);
  });
  test("addresses the resolver with the full canonical domain name", async () => {
    const r = resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON }));
    const s = await service(r);
    r.requests.length = 0;
    await s.resolve("alice.simplex");
    await s.resolve("b.a.privacy.testing");
    await s.resolve("my-shop.example.com");
    expect(r.requests.map((q) => q.segments)).toEqual([["resolve", "alice.simplex"], ["resolve", "b.a.privacy.testing"], ["resolve", "my-shop.example.com"]]);
  });
  test("a path prefix in the endpoint is kept (resolver behind a reverse-proxy sub-path)", async () => {
    const r = resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON }), "/snrc");
    const s = await service(r);
    await s.resolve("alice.simplex");
    expect(r.requests.map((q) => q.rawPath)).toEqual(["/snrc/health", "/snrc/resolve/alice.simplex"]);
  });
});

describe("request hardening (Server/Names/HttpResolver.hs:httpGet)", () => {
  test("Accept: application/json always; Authorization only when configured (Bearer / Basic base64(user:pass))", async () => {
    const r = resolver(resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON }));
    const plain = await service(r);
    await plain.resolve("alice.simplex");
    const bearer = await service(r, { resolverAuth: { scheme: "bearer", token: "s3cr3t-token" } });
    await bearer.resolve("alice.simplex");
    const basic = await service(r, { resolverAuth: { scheme: "basic", user: "user", password: "pass" } });
    await basic.resolve("alice.simplex");
    const resolves = r.requests.filter((q) => q.segments[0] === "resolve");
    expect(resolves.map((q) => q.headers.accept)).toEqual(["application/json", "application/json", "application/json"]);
    expect(resolves.map((q) => q.headers.authorization)).toEqual([undefined, "Bearer s3cr3t-token", "Basic dXNlcjpwYXNz"]);
    // the health probe carries the same headers
    expect(r.requests.filter((q) => q.segments[0] === "health").map((q) => q.headers.authorization)).toEqual([undefined, "Bearer s3cr3t-token", "Basic dXNlcjpwYXNz"]);
  });
  test("redirects are never followed (redirectCount = 0): a 3xx is answered from its own body", async () => {
    let target = 0;
    const r = resolver((seg) => {
      if (seg[0] === "health") return { status: 200, body: "{}" };
      if (seg[0] === "elsewhere") {
        target++;
        return { status: 200, body: TEST_NAME_RECORD_JSON };
      }
      return { status: 302, body: "{}", headers: { location: "/elsewhere" } };
    });
    const s = await service(r);
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("invalid response"));
    expect(target).toBe(0);
    // status < 400 means the body is decoded, as http-client returns the 3xx response itself
    const r2 = resolver(resolveResp({ status: 307, body: TEST_NAME_RECORD_JSON, headers: { location: "http://127.0.0.1:1/" } }));
    const s2 = await service(r2);
    expect(text(await s2.resolve("alice.simplex"))).toBe(TEST_NAME_RECORD_JSON);
  });
  test("the auth secret is never printed: config description, start-up log, start-up error", async () => {
    const auths = [
      { scheme: "bearer" as const, token: "s3cr3t-token" },
      { scheme: "basic" as const, user: "user", password: "s3cr3t-pass" },
    ];
    logLines.length = 0;
    const r = resolver(resolveResp({ status: 200, body: "{}" }));
    for (const resolverAuth of auths) {
      const cfg = testNamesConfig(r.url, { resolverAuth });
      expect(describeNamesConfig(cfg)).toContain("<redacted>");
      const s = await createNamesService(cfg);
      s.close();
      const dead = startResolver(resolveResp({ status: 200, body: "{}" }));
      dead.stop();
      const err = await createNamesService(testNamesConfig(dead.url, { resolverAuth })).catch((e: Error) => e);
      expect(err).toBeInstanceOf(NamesStartupError);
      for (const out of [describeNamesConfig(cfg), logLines.join("\n"), (err as Error).message]) {
        expect(out).not.toContain("s3cr3t");
        expect(out).not.toContain(btoa("user:s3cr3t-pass"));
      }
    }
  });
});

describe("healthSpec (tests/SMPNamesTests.hs) and the start-up probe", () => {
  test("queries /health once at start; 200 OK starts the role", async () => {
    const r = resolver(resolveResp({ status: 200, body: "{}" }));
    await service(r);
    expect(r.requests.map((q) => q.segments)).toEqual([["health"]]);
  });
  test("a 500 /health is reported but does not stop start-up (the resolver answered)", async () => {
    logLines.length = 0;
    const r = resolver((seg) => (seg[0] === "health" ? { status: 500, body: "{}" } : { status: 404, body: "{}" }));
    const s = await service(r);
    expect(logLines.some((l) => l.includes("[WARN]") && l.includes("HTTP 500"))).toBe(true);
    expect(await s.resolve("alice.simplex")).toEqual(NOT_FOUND);
  });
  test("a transport failure fails start-up; healthCheck \"warn\" (the reference) and \"skip\" do not", async () => {
    const dead = startResolver(resolveResp({ status: 200, body: "{}" }));
    dead.stop();
    const cfg = testNamesConfig(dead.url);
    await expect(createNamesService(cfg)).rejects.toBeInstanceOf(NamesStartupError);
    await expect(createNamesService(cfg)).rejects.toThrow(/health check .* failed: transport failure/);
    const warned = await createNamesService(cfg, { healthCheck: "warn" });
    expect(await warned.resolve("alice.simplex")).toEqual(nameErr("transport failure"));
    warned.close();
    (await createNamesService(cfg, { healthCheck: "skip" })).close();
  });
});

describe("stats (Server/Stats.hs:NameResolverStats) and concurrency", () => {
  test("reqs / succ / notFound / resolverErrs / disabled", async () => {
    const stats = new NamesStats();
    const r = resolver((seg) => {
      if (seg[0] === "health") return { status: 200, body: "{}" };
      if (seg[1] === "alice.simplex") return { status: 200, body: TEST_NAME_RECORD_JSON };
      if (seg[1] === "ghost.simplex") return { status: 404, body: "{}" };
      return { status: 502, body: "{}" };
    });
    const s = await service(r, {}, stats);
    await Promise.all(["alice.simplex", "ghost.simplex", "bob.simplex", "alice.simplex", "carol.simplex"].map((n) => s.resolve(n)));
    expect(noResolverReply(stats)).toEqual({ tag: "ERR", err: { type: "NAME", err: { type: "NO_RESOLVER" } } as ErrorType });
    expect({ ...stats }).toEqual({ reqs: 6, succ: 2, notFound: 1, resolverErrs: 2, disabled: 1, resolverDown: 0 });
  });
  test("at most resolverConcurrency requests in flight; a full queue is refused at once; the event loop stays free", async () => {
    let inFlight = 0;
    let peak = 0;
    // The resolver holds every answer until the test releases it, so what is in flight, queued
    // and refused is observed by counts and order, not by how long anything took.
    const gate = hold();
    const slow = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        if (new URL(req.url).pathname === "/health") return new Response("{}");
        inFlight++;
        peak = Math.max(peak, inFlight);
        await gate.released;
        inFlight--;
        return new Response(TEST_NAME_RECORD_JSON);
      },
    });
    open.push({ stop: () => slow.stop(true) });
    const stats = new NamesStats();
    const cfg = testNamesConfig(`http://127.0.0.1:${slow.port}`, { resolverConcurrency: 2, resolverTimeoutMs: 30_000 });
    const s = await createNamesService(cfg, { stats, maxQueued: 2 });
    open.push({ stop: () => s.close() });
    const settled: string[] = [];
    const pending = Array.from({ length: 6 }, (_, i) => s.resolve("alice.simplex").then((x) => (settled.push(`reply ${i}`), x)));
    // The event loop stays free: a timer fires while all six are unresolved.
    await new Promise((r) => setTimeout(r, 0));
    settled.push("timer");
    // Two reach the resolver, the two beyond the queue are refused at once — all while the
    // resolver still holds the first two answers.
    await until(() => inFlight === 2 && settled.length === 3);
    expect(settled.slice().sort()).toEqual(["reply 4", "reply 5", "timer"]);
    gate.release();
    const replies = await Promise.all(pending);
    expect(peak).toBe(2);
    expect(replies.filter((x) => x.tag === "RNAME").length).toBe(4);
    expect(replies.slice(4)).toEqual([nameErr("resolver busy"), nameErr("resolver busy")]);
    expect({ ...stats }).toEqual({ reqs: 6, succ: 4, notFound: 0, resolverErrs: 2, disabled: 0, resolverDown: 0 });
  });
  test("close() answers queued resolutions and aborts the ones in flight; later ones fail at once", async () => {
    // The resolver never answers and the timeout is far away: only close() can end them.
    const never = hold();
    const r = resolver((seg) => (seg[0] === "health" ? { status: 200, body: "{}" } : { status: 200, body: TEST_NAME_RECORD_JSON, until: never.released }));
    const s = await createNamesService(testNamesConfig(r.url, { resolverConcurrency: 1, resolverTimeoutMs: 30_000 }));
    const a = s.resolve("alice.simplex");
    const b = s.resolve("alice.simplex");
    await until(() => r.requests.some((q) => q.segments[0] === "resolve")); // a is in flight, b queued
    s.close();
    const [ra, rb] = await Promise.all([a, b]);
    never.release();
    expect(ra).toEqual(nameErr("transport failure"));
    expect(rb).toEqual(nameErr("resolver error"));
    expect(await s.resolve("alice.simplex")).toEqual(nameErr("resolver error"));
  });
});
