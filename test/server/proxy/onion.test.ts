// The proxy role and .onion destinations. Without [PROXY] socks_proxy the reference resolves a
// .onion name through ordinary DNS and tries to connect (simplexmq#1518): this server never lets
// the name leave the process and answers as for an unreachable host (Client.hs:smpProxyError,
// PCENetworkError → PROXY BROKER NETWORK), logged once. With a SOCKS proxy that is down, the
// proxy role degrades the same way and messaging is not affected.
import { afterEach, expect, test } from "bun:test";
import { SMPClient } from "../../../src/client/client.ts";
import type { ErrorType } from "../../../src/protocol/errors.ts";
import { parseServerStr, type SMPServer } from "../../../src/protocol/server-address.ts";
import { chooseRelayHost } from "../../../src/server/proxy/agent.ts";
import type { ProxyOptions } from "../../../src/server/options.ts";
import { setLogSink } from "../../../src/util/log.ts";
import { startTestServer, type TestOptions, type TestServer } from "../harness.ts";
import { blackHole } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const NETWORK: ErrorType = { type: "PROXY", err: { type: "BROKER", err: { type: "NETWORK", err: { type: "FAILED" } } } } as ErrorType;

async function proxyServer(proxy: Partial<NonNullable<TestOptions["proxy"]>> = {}): Promise<TestServer> {
  const s = await startTestServer({ proxy: { enabled: true, clientConcurrency: 32, connectTimeoutMs: 2000, ...proxy } });
  cleanup.push(() => s.stop());
  return s;
}

async function client(s: TestServer): Promise<SMPClient> {
  const c = await SMPClient.connect({ server: s.address, timeoutMs: 5000 });
  cleanup.push(() => c.close());
  return c;
}

/** An onion-only destination (the address of a router that does not exist). */
function onionDestination(s: TestServer, label: string, suffix = ".onion"): SMPServer {
  return { ...parseServerStr(s.address).server, hosts: [`${label.padEnd(56, "a")}${suffix}`], port: "5223" };
}

/** Onion names in any letter case, with or without the root dot: none may reach a resolver. */
const ONION = /\.onion\.?$/i;

async function proxyError(c: SMPClient, dest: SMPServer): Promise<ErrorType> {
  try {
    await c.connectProxiedRelay(dest);
  } catch (e) {
    return (e as { err: ErrorType }).err;
  }
  throw new Error("PRXY succeeded");
}

/** Every host name this process opens a TCP connection to, while the test runs. */
function spyConnections(): string[] {
  const hosts: string[] = [];
  const orig = Bun.connect;
  (Bun as { connect: typeof Bun.connect }).connect = ((o: Parameters<typeof Bun.connect>[0]) => {
    hosts.push((o as { hostname?: string }).hostname ?? "");
    return orig(o);
  }) as typeof Bun.connect;
  cleanup.push(() => ((Bun as { connect: typeof Bun.connect }).connect = orig));
  return hosts;
}

test("no SOCKS proxy: a .onion destination never reaches DNS; PROXY BROKER NETWORK, logged once", async () => {
  const lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  cleanup.push(() => setLogSink(prev));
  const s = await proxyServer();
  const c = await client(s);
  const hosts = spyConnections();
  expect(await proxyError(c, onionDestination(s, "first"))).toEqual(NETWORK);
  expect(await proxyError(c, onionDestination(s, "second"))).toEqual(NETWORK);
  expect(hosts.filter((h) => ONION.test(h))).toEqual([]);
  expect(lines.filter((l) => l.includes("socks_proxy is not set")).length).toBe(1);
  expect(lines.some((l) => l.includes("first") || l.includes("second"))).toBe(false);
});

// DNS names are case-insensitive: `.ONION` and `.Onion` name the same onion service (the wire
// grammar reads them as domains, so only the agent's choice can catch them). `x.onion.` does not
// reach the agent: the onion rule of the host grammar stops before the dot and `parseAll` fails.
test("a destination ending .onion. is refused as CMD SYNTAX and never reaches DNS", async () => {
  const s = await proxyServer();
  const c = await client(s);
  const hosts = spyConnections();
  expect(await proxyError(c, onionDestination(s, "dot", ".onion."))).toEqual({ type: "CMD", err: "SYNTAX" } as ErrorType);
  expect(hosts.filter((h) => ONION.test(h))).toEqual([]);
});

for (const suffix of [".ONION", ".Onion"]) {
  test(`no SOCKS proxy: a destination ending ${suffix} is an onion too and never reaches DNS`, async () => {
    const s = await proxyServer();
    const c = await client(s);
    const hosts = spyConnections();
    expect(await proxyError(c, onionDestination(s, "mixed", suffix))).toEqual(NETWORK);
    expect(hosts.filter((h) => ONION.test(h))).toEqual([]);
  });
}

test("chooseRelayHost: an upper-case onion host is the onion one", () => {
  const hosts = ["relay.example.com", "abc.ONION"];
  const sock = { host: "127.0.0.1", port: 9050 };
  expect(chooseRelayHost({ hostMode: "onion", socksProxy: sock } as ProxyOptions, hosts)).toBe("abc.ONION");
  expect(chooseRelayHost({ hostMode: "public", socksProxy: sock } as ProxyOptions, ["abc.Onion.", "relay.example.com"])).toBe("relay.example.com");
});

test("a SOCKS proxy that is down: PRXY answers PROXY BROKER NETWORK and messaging is served", async () => {
  const hole = blackHole();
  const port = hole.port;
  hole.stop(); // nothing listens there
  const s = await proxyServer({ socksProxy: { host: "127.0.0.1", port } });
  const c = await client(s);
  expect(await proxyError(c, onionDestination(s, "third"))).toEqual(NETWORK);
  const q = await c.createQueue({ subMode: "S" });
  expect(q.rcvId.length).toBe(24);
  await c.ping();
});
