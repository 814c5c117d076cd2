/**
 * `smp-server start --nodes 2` (issue 18, one machine): a supervisor runs two node processes on
 * ONE port (SO_REUSEPORT); clients of that one address reach both nodes and see one server; a
 * node killed with SIGKILL is restarted; SIGTERM to the supervisor stops every node.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { SMPClient } from "../../src/client/client.ts";
import { asMsg, closeAll, CMD, connect, createAndSecureQueue, decText, nextEvent, OK, send, sndKeys, sr } from "../server/helpers.ts";
import { ControlClient } from "../server/ops/control-client.ts";
import { Cluster, HAVE_PG, type NodeProcess } from "./harness.ts";

const TEST_MS = 120_000;
/** Cross-node events: an upper bound beyond the nodes' 10 s sweep interval (see two-nodes.test.ts). */
const CROSS_MS = 30_000;

if (!HAVE_PG) console.warn("SKIP test/cluster/supervisor.test.ts: no PostgreSQL (SMP_TEST_PG_URI)");

/** Two consecutive free ports (node N's control port is control_port + N − 1). */
function twoFreePorts(): number {
  for (;;) {
    const a = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const b = Bun.listen({ hostname: "127.0.0.1", port: a.port + 1, socket: { data() {} } });
      b.stop(true);
      return a.port;
    } catch {
      // taken: try another
    } finally {
      a.stop(true);
    }
  }
}

/** Connected SMP clients of one node, from its control port (`clients`: a header, then one row each). */
async function clientsOf(controlPort: number): Promise<number> {
  const cc = await ControlClient.open(controlPort);
  try {
    await cc.greeting();
    expect(await cc.cmd("auth adm")).toEqual(["Current role is CPRAdmin"]);
    return (await cc.cmd("clients")).length - 1;
  } finally {
    cc.close();
  }
}

/**
 * Each sender sends one message, which must reach the subscribed recipient as an event before
 * the next is sent (so a sender on the other node needs the event to cross nodes), then ACK → OK.
 */
async function deliverEach(r: SMPClient, senders: SMPClient[], prefix: string): Promise<void> {
  const { sKey, sPub } = sndKeys();
  const q = await createAndSecureQueue(r, sPub);
  for (const [i, s] of senders.entries()) {
    expect(await sr(s, sKey, `s${i}`, q.sndId, send(`${prefix} ${i}`))).toEqual(OK);
    const m = asMsg(await nextEvent(r, q.rcvId, CROSS_MS));
    expect(decText(q, m)).toBe(`${prefix} ${i}`);
    expect(await sr(r, q.rcvAuthKey, `a${i}`, q.rcvId, CMD.ack(m.msgId))).toEqual(OK);
  }
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));

describe.skipIf(!HAVE_PG)("start --nodes 2: one port, two processes", () => {
  let cluster: Cluster;
  let sup: NodeProcess;
  let pids: number[];
  let control: number;
  const clients: SMPClient[] = [];

  beforeAll(async () => {
    control = twoFreePorts();
    cluster = (await Cluster.create({ logLevel: "info", toml: { TRANSPORT: `control_port = ${control}`, AUTH: 'control_port_admin_password = "adm"' } }))!;
    sup = await cluster.startSupervised(2);
    const running = await sup.waitFor(/2 nodes running \(pids (\d+), (\d+)\)/, true);
    pids = [Number(running[1]), Number(running[2])];
  }, TEST_MS);
  afterAll(async () => {
    closeAll(clients);
    await cluster?.stop();
  });

  test(
    "both nodes take connections of the one address, and a message crosses between whichever nodes the clients reached",
    async () => {
      expect(pids.every(alive)).toBe(true);
      expect(pids[0]).not.toBe(sup.pid);
      // The kernel spreads connections over the listeners by their addresses: with 16, both get some.
      for (let i = 0; i < 16; i++) clients.push(await connect(sup));
      const perNode = [await clientsOf(control), await clientsOf(control + 1)];
      expect(perNode[0]! + perNode[1]!).toBe(16);
      expect(perNode[0]).toBeGreaterThan(0);
      expect(perNode[1]).toBeGreaterThan(0);
      // One recipient, fifteen senders: each message reaches it as it is sent, whatever node each is on.
      const [r, ...senders] = clients as [SMPClient, ...SMPClient[]];
      await deliverEach(r, senders, "from");
    },
    TEST_MS,
  );

  test(
    "a node killed with SIGKILL is restarted by the supervisor, and the address keeps serving",
    async () => {
      const restarted = sup.waitFor(/node (\d) ready \(pid (\d+)\)/);
      process.kill(pids[1]!, "SIGKILL");
      await sup.waitFor(/node 2 was killed by SIGKILL; restarting it/, true);
      const m = await restarted;
      expect(m[1]).toBe("2");
      const newPid = Number(m[2]);
      expect(newPid).not.toBe(pids[1]);
      expect(alive(newPid)).toBe(true);
      pids[1] = newPid;
      // New connections reach both nodes (the restarted one too): each new client's node is the one
      // whose count of clients went up, once the node has taken it.
      const onNode: [SMPClient[], SMPClient[]] = [[], []];
      let counts = [await clientsOf(control), await clientsOf(control + 1)];
      while (onNode[0].length === 0 || onNode[1].length === 0) {
        const c = await connect(sup);
        clients.push(c);
        let now = counts;
        while (now[0]! + now[1]! === counts[0]! + counts[1]!) {
          await Bun.sleep(20); // polling interval, not a timing assertion
          now = [await clientsOf(control), await clientsOf(control + 1)];
        }
        expect(now[0]! + now[1]!).toBe(counts[0]! + counts[1]! + 1);
        onNode[now[0]! > counts[0]! ? 0 : 1].push(c);
        counts = now;
      }
      // A message crosses from a new client on each node to a new client on the other.
      await deliverEach(onNode[1][0]!, [onNode[0][0]!], "to the restarted node");
      await deliverEach(onNode[0][0]!, [onNode[1][0]!], "from the restarted node");
    },
    TEST_MS,
  );

  test(
    "SIGTERM to the supervisor stops every node; it exits 0",
    async () => {
      closeAll(clients);
      clients.length = 0;
      expect(await sup.stop()).toBe(0);
      // The nodes are its children: stopped before it exits, none left behind.
      expect(pids.filter(alive)).toEqual([]);
    },
    TEST_MS,
  );
});
