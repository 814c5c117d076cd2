// The proxy counters with the reference's "own server" split (Server.hs:mkIncProxyStats,
// Client/Agent.hs:isOwnServer): a destination whose first host is an own domain, or under one,
// counts in pRelaysOwn / pMsgFwdsOwn as well as in pRelays / pMsgFwds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SMPClient } from "../../../src/client/index.ts";
import { parseServerStr } from "../../../src/protocol/server-address.ts";
import { isOwnServer } from "../../../src/server/proxy/stats.ts";
import { startTestServer, type TestServer } from "../harness.ts";

test("isOwnServer: equal to an own domain or a subdomain of it, first host only", () => {
  expect(isOwnServer(["example.com"], ["example.com"])).toBe(true);
  expect(isOwnServer(["example.com"], ["smp1.example.com", "x.onion"])).toBe(true);
  expect(isOwnServer(["example.com"], ["badexample.com"])).toBe(false);
  expect(isOwnServer(["example.com"], ["x.onion", "smp1.example.com"])).toBe(false);
  expect(isOwnServer(undefined, ["example.com"])).toBe(false);
});

describe("PRXY and PFWD through a proxy", () => {
  let dest: TestServer;
  beforeAll(async () => {
    // One node each under SMP_TEST_NODES: one proxy's and one destination's counters.
    dest = await startTestServer({ nodes: 1 });
  });
  afterAll(async () => {
    await dest.stop();
  });

  for (const own of [true, false]) {
    test(own ? "to an own server: counted in both" : "to another server: not in the own counters", async () => {
      const proxy = await startTestServer({ proxy: { enabled: true, clientConcurrency: 32, ...(own && { ownServerDomains: ["127.0.0.1"] }) }, nodes: 1 });
      const rcv = await SMPClient.connect({ server: dest.address });
      const snd = await SMPClient.connect({ server: proxy.address });
      try {
        const q = await rcv.createQueue();
        const recvBefore = dest.server.stats.proxy.msgFwdsRecv;
        const relay = await snd.connectProxiedRelay(parseServerStr(dest.address).server);
        expect(await snd.proxyCommand(relay, null, q.sndId, { tag: "SEND", flags: { notification: false }, body: new TextEncoder().encode("hi") })).toEqual({ tag: "OK" });
        const p = proxy.server.stats.proxy;
        expect(p.relays).toMatchObject({ requests: 1, successes: 1 });
        expect(p.msgFwds).toMatchObject({ requests: 1, successes: 1 });
        expect(p.relaysOwn).toMatchObject(own ? { requests: 1, successes: 1 } : { requests: 0, successes: 0 });
        expect(p.msgFwdsOwn).toMatchObject(own ? { requests: 1, successes: 1 } : { requests: 0, successes: 0 });
        expect(dest.server.stats.proxy.msgFwdsRecv).toBe(recvBefore + 1);
        const text = await proxy.monitor.metricsText();
        expect(text).toContain(`simplex_smp_relay_sessions_successes{source="own"} ${own ? 1 : 0} `);
      } finally {
        rcv.close();
        snd.close();
        await proxy.stop();
      }
    });
  }
});
