// The names role is optional: a resolver that is down when the server starts degrades RSLV
// (ERR NAME RESOLVER, logged, counted) and never keeps messaging down; RSLV recovers by itself
// once the resolver is back. (The reference only logs its start-up probe: Server/Env/STM.hs:newEnv.)
import { afterEach, expect, test } from "bun:test";
import { SMPError } from "../../../src/client/errors.ts";
import { fromUtf8 } from "../../../src/encoding/bytes.ts";
import { setLogSink } from "../../../src/util/log.ts";
import { startTestServer } from "../harness.ts";
import { connect } from "../helpers.ts";
import { ControlClient } from "../ops/control-client.ts";
import { TEST_NAME_RECORD_JSON, resolveResp, startResolver, testNamesConfig } from "./resolver-server.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

test("resolver down at start: messaging serves, RSLV answers ERR NAME RESOLVER, and recovers when the resolver returns", async () => {
  const lines: string[] = [];
  const prev = setLogSink((l) => lines.push(l));
  cleanup.push(() => setLogSink(prev));
  const answer = resolveResp({ status: 200, body: TEST_NAME_RECORD_JSON });
  const dead = startResolver(answer);
  dead.stop();

  const s = await startTestServer({ names: testNamesConfig(dead.url), control: { port: 0, adminPassword: "a", userPassword: "u", dailyBlockQueueQuota: 20 } });
  cleanup.push(() => s.stop());
  // The operator sees the degraded role on the control port and in the metrics.
  const cp = await ControlClient.open(s.control!.port);
  cleanup.push(() => cp.close());
  await cp.greeting();
  await cp.cmd("auth u");
  expect(await cp.cmd("server-info")).toContain("Names resolver: down");
  expect(await s.monitor.metricsText()).toContain("\nsmp_server_names_resolver_down 1\n");
  expect(lines.some((l) => l.includes("[WARN]") && l.includes("health check") && l.includes("transport failure"))).toBe(true);
  expect(s.server.namesStats.resolverDown).toBe(1);

  const c = await connect(s);
  cleanup.push(() => c.close());
  const q = await c.createQueue({ subMode: "S" });
  expect(q.rcvId.length).toBe(24);
  const e = await c.resolveName("alice.simplex").then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SMPError);
  expect((e as SMPError).err).toEqual({ type: "NAME", err: { type: "RESOLVER", err: "transport failure" } });

  // The resolver comes back at its address: the next RSLV is served, and the role says so.
  const back = startResolver(answer, "", dead.port);
  cleanup.push(() => back.stop());
  expect(fromUtf8(await c.resolveName("alice.simplex"))).toBe(TEST_NAME_RECORD_JSON);
  expect(s.server.namesStats.resolverDown).toBe(0);
  expect(await cp.cmd("server-info")).toContain("Names resolver: up");
  expect(await s.monitor.metricsText()).toContain("\nsmp_server_names_resolver_down 0\n");
  expect(lines.some((l) => l.includes("the resolver is reachable again"))).toBe(true);
});
