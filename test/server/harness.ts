// A real server on 127.0.0.1 (TLS, SMP handshake, SQLite store) with freshly generated
// certificates, for integration tests. Each test gets its own server and database.
//
// SMP_TEST_STORE=postgres runs the same tests on the PostgreSQL store (SMP_TEST_PG_URI, see
// test/store/postgres.ts): each data directory gets its own schema, named after the directory,
// so a test that restarts a server on the same directory finds its data again.
//
// SMP_TEST_NODES=N (with SMP_TEST_STORE=postgres) makes each test server N nodes of one cluster
// (issue 18): N servers in this process on the same schema, each with its own store connection
// and port, the same credentials. `address` hands out the nodes' addresses in turn, so the
// connections a test opens are spread round-robin over the nodes; `server`, `monitor`, `port`,
// `ports`, `control` are node 1's, `nodes` all of them; `stop` stops all.
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateCa, generateServerCert } from "../../src/crypto/x509/certificate.ts";
import { sha256 } from "../../src/crypto/digest.ts";
import { startServer, type RunningServer } from "../../src/server/index.ts";
import type { Credentials, ServerOptions } from "../../src/server/options.ts";
import { openPostgresStore } from "../../src/store/postgres/open.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import type { Store } from "../../src/store/store.ts";
import { dropTestSchemas, testPostgresUri } from "../store/postgres.ts";

let cached: Credentials | null = null;

/** One CA + server certificate per test process (generation is cheap, but keep tests fast). */
export function testCredentials(): Credentials {
  if (cached !== null) return cached;
  const ca = generateCa();
  const srv = generateServerCert(ca, "127.0.0.1");
  cached = {
    chainDer: [srv.der, ca.der],
    certPem: srv.pem,
    caPem: ca.pem,
    keyPem: srv.keyPem,
    serverKeyPkcs8: new Uint8Array(createPrivateKey(srv.keyPem).export({ type: "pkcs8", format: "der" })),
    fingerprint: sha256(ca.der),
  };
  return cached;
}

export type TestOptions = Partial<Omit<ServerOptions, "store" | "auth" | "timeouts">> & {
  store?: Partial<ServerOptions["store"]>;
  auth?: Partial<ServerOptions["auth"]>;
  timeouts?: Partial<ServerOptions["timeouts"]>;
  /**
   * At most this many nodes under SMP_TEST_NODES: 1 for a test of one process's own counters,
   * files, control port or limits (each node has its own; say why where it is set).
   */
  nodes?: number;
};

export function testOptions(o: TestOptions = {}, dataDir = ""): ServerOptions {
  return {
    transport: { ports: [0], bindHost: "127.0.0.1", host: "127.0.0.1", logTlsErrors: false, maxConnections: 1000, ...o.transport },
    credentials: o.credentials ?? testCredentials(),
    dataDir,
    auth: { allowNewQueues: true, ...o.auth },
    store: {
      persistent: true,
      createIfMissing: true,
      expireMessagesDays: 21,
      expireMessagesOnStart: false,
      expireMessagesOnSend: false,
      expireNtfsHours: 24,
      msgQueueQuota: 128,
      ...testPostgres(dataDir),
      ...o.store,
    },
    inactiveClients: o.inactiveClients,
    ...(o.names !== undefined && { names: o.names }),
    ...(o.control !== undefined && { control: o.control }),
    ...(o.monitor !== undefined && { monitor: o.monitor }),
    timeouts: { tlsSetupMs: 10_000, handshakeMs: 10_000, ...o.timeouts },
    proxy: { enabled: false, clientConcurrency: 32, ...o.proxy },
    logLevel: "error",
  };
}

export interface TestServer extends RunningServer {
  readonly port: number;
  /** The address of the next node in turn (always node 1's with one node). */
  readonly address: string;
  /** Every node (one unless SMP_TEST_NODES), node 1 first. */
  readonly nodes: readonly RunningServer[];
  /** Each node's address, node 1 first: a test about one process's limits or state uses `addresses[0]`. */
  readonly addresses: readonly string[];
  readonly options: ServerOptions;
  readonly dataDir: string;
  /** Stops the server and removes its data unless `keepData`. */
  stop(keepData?: boolean): Promise<void>;
}

/** The store backend the server tests run on (SMP_TEST_STORE: "sqlite", the default, or "postgres"). */
export const TEST_STORE = process.env.SMP_TEST_STORE === "postgres" ? "postgres" : "sqlite";

/** Nodes per test server (SMP_TEST_NODES, default 1); more than one needs the PostgreSQL store. */
export const TEST_NODES = testNodes();

function testNodes(): number {
  const v = process.env.SMP_TEST_NODES;
  if (v === undefined || v === "") return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`SMP_TEST_NODES: expected a positive integer, got ${JSON.stringify(v)}`);
  if (n > 1 && TEST_STORE !== "postgres") throw new Error("SMP_TEST_NODES > 1 needs SMP_TEST_STORE=postgres (SQLite is single-node)");
  return n;
}

function testPostgres(dataDir: string): { postgres?: { uri: string; schema: string; poolSize: number } } {
  if (TEST_STORE !== "postgres" || dataDir === "") return {};
  const uri = testPostgresUri();
  if (uri === null) throw new Error("SMP_TEST_STORE=postgres needs SMP_TEST_PG_URI");
  const schema = "s_" + Buffer.from(sha256(new TextEncoder().encode(dataDir)).subarray(0, 12)).toString("hex");
  return { postgres: { uri, schema, poolSize: 4 } };
}

/** The test's store, created empty on first use (the server's own start refuses a missing schema). */
export async function openTestStore(options: ServerOptions): Promise<Store> {
  const pg = options.store.postgres;
  if (pg !== undefined) return openPostgresStore({ ...pg, createSchema: true, msgQueueQuota: options.store.msgQueueQuota });
  return openSqliteStore({ path: join(options.dataDir, "smp-server.sqlite"), msgQueueQuota: options.store.msgQueueQuota });
}

/** Removes what `openTestStore` created outside the data directory. */
export async function removeTestStore(options: ServerOptions): Promise<void> {
  const pg = options.store.postgres;
  if (pg !== undefined) await dropTestSchemas(pg.uri, [pg.schema]);
}

/** Node i's options: ServerOptions.node names it (issue 18). */
function nodeOptions(options: ServerOptions, i: number, count: number): ServerOptions {
  if (count === 1) return options;
  return { ...options, node: { index: i + 1, count, name: `test-${i + 1}` } };
}

export async function startTestServer(o: TestOptions = {}, dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "smp-test-"));
  const options = testOptions(o, dir);
  const nodes: RunningServer[] = [];
  try {
    // Node 1 first: it creates the schema's tables; the others join the running cluster.
    const count = Math.min(o.nodes ?? TEST_NODES, TEST_NODES);
    for (let i = 0; i < count; i++) nodes.push(await startServer(nodeOptions(options, i, count), await openTestStore(options)));
  } catch (e) {
    await Promise.all(nodes.map((n) => n.close()));
    throw e;
  }
  const first = nodes[0]!;
  const fp = Buffer.from(options.credentials.fingerprint).toString("base64url") + "=";
  const addresses = nodes.map((n) => `smp://${fp}@127.0.0.1:${n.ports[0]!}`);
  let next = 0;
  const closeAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.close()));
  };
  return {
    ...first,
    port: first.ports[0]!,
    options,
    dataDir: dir,
    nodes,
    addresses,
    get address() {
      return addresses[next++ % addresses.length]!;
    },
    close: closeAll,
    async stop(keepData = false) {
      await closeAll();
      if (!keepData) {
        rmSync(dir, { recursive: true, force: true });
        await removeTestStore(options);
      }
    },
  };
}

/**
 * A per-process figure (a counter, a connection count) summed over the test server's nodes: with
 * SMP_TEST_NODES each node counts what it served, and the test's connections are spread over them.
 */
export function overNodes(s: TestServer, f: (n: RunningServer) => number): number {
  let total = 0;
  for (const n of s.nodes) total += f(n);
  return total;
}
