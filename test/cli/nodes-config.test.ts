// `[NODES]` and `start --nodes` (src/cli/nodes.ts): parsing, the refusals on SQLite with the exact
// messages an operator sees, and which node a process is from its environment.
import { describe, expect, test } from "bun:test";
import { availableParallelism, hostname } from "node:os";
import { UsageError } from "../../src/cli/args.ts";
import { ConfigError, parseConfig } from "../../src/cli/config.ts";
import { renderConfig } from "../../src/cli/config-template.ts";
import { MAX_NODES, nodeCount, nodeIdentity, nodePort, nodesOption } from "../../src/cli/nodes.ts";

const FILE = "/etc/opt/simplex/smp-server.toml";
const PG = '[STORE_LOG]\ndb_connection = "postgresql://smp@localhost/smp"\n';
const cfg = (nodes: string, store = PG) => parseConfig(`${store}[TRANSPORT]\nport = [5223]\n[NODES]\n${nodes}`, FILE);

function configError(nodes: string, store = PG): string {
  try {
    cfg(nodes, store);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("[NODES]", () => {
  test("count defaults to 1; a number, a numeric string and auto are read", () => {
    expect(parseConfig("[TRANSPORT]\nport = [5223]\n", FILE).nodes).toEqual({ count: 1 });
    expect(cfg("count = 3").nodes).toEqual({ count: 3 });
    expect(cfg('count = "4"').nodes).toEqual({ count: 4 });
    expect(cfg('count = "auto"\nname = "relay1"').nodes).toEqual({ count: "auto", name: "relay1" });
  });

  test("bad values name the file, the key and the reason", () => {
    expect(configError("count = 0")).toBe(`${FILE}: [NODES] count: expected a whole number from 1 to ${MAX_NODES} or "auto" (one node per core), got 0`);
    expect(configError('count = "many"')).toBe(`${FILE}: [NODES] count: expected a whole number from 1 to ${MAX_NODES} or "auto" (one node per core), got "many"`);
    expect(configError("count = 2.5")).toBe(`${FILE}: [NODES] count: expected a whole number from 1 to ${MAX_NODES} or "auto" (one node per core), got 2.5`);
    expect(configError('name = "a b"')).toBe(`${FILE}: [NODES] name: expected letters, digits, ".", "_" or "-" (at most 63, starting with a letter or digit), got "a b"`);
    expect(configError("colour = 1")).toBe(`${FILE}: [NODES] colour: unknown key (known keys in [NODES]: count, name)`);
  });

  test("more than one node on SQLite is refused: the SQLite database is one process's", () => {
    expect(configError("count = 2", "")).toBe(
      `${FILE}: [NODES] count: 2 nodes need the PostgreSQL store: the SQLite database is used by one server process only (set [STORE_LOG] db_connection, or count = 1)`,
    );
    expect(configError('count = "auto"', "")).toBe(
      `${FILE}: [NODES] count: "auto" (one node per core) need the PostgreSQL store: the SQLite database is used by one server process only (set [STORE_LOG] db_connection, or count = 1)`,
    );
    expect(cfg("count = 1", "").nodes).toEqual({ count: 1 });
  });

  test("the template's [NODES] section parses to the defaults", () => {
    const text = renderConfig({ configDir: "/c", dataDir: "/d", enableStoreLog: true, logStats: false, ports: [5223] });
    expect(text).toContain("\n[NODES]\n");
    expect(text).toContain("\n# count = 1\n");
    expect(parseConfig(text.replace("# count = 1", "count = 1"), FILE).nodes).toEqual({ count: 1 });
  });
});

describe("--nodes", () => {
  const pgNodes = cfg("count = 3").nodes;
  test("overrides [NODES] count; auto is the number of cores", () => {
    expect(nodeCount(undefined, pgNodes, true, FILE)).toBe(3);
    expect(nodeCount(nodesOption("2"), pgNodes, true, FILE)).toBe(2);
    expect(nodeCount(nodesOption("auto"), pgNodes, true, FILE)).toBe(Math.min(MAX_NODES, availableParallelism()));
  });

  test("bad values and SQLite are refused with the option's name", () => {
    expect(usageError(() => nodesOption("0"))).toBe(`--nodes: expected a whole number from 1 to ${MAX_NODES} or "auto" (one node per core), got "0"`);
    expect(usageError(() => nodesOption("two"))).toBe(`--nodes: expected a whole number from 1 to ${MAX_NODES} or "auto" (one node per core), got "two"`);
    const sqlite = { count: 1 as const };
    expect(usageError(() => nodeCount(2, sqlite, false, FILE))).toBe(
      `--nodes 2: 2 nodes need the PostgreSQL store: the SQLite database is used by one server process only; ${FILE} has no [STORE_LOG] db_connection`,
    );
    expect(nodeCount(1, sqlite, false, FILE)).toBe(1);
  });
});

describe("node identity", () => {
  const host = hostname().split(".")[0];
  test("without the environment: a plain server (none), even on PostgreSQL; node 1 of 1 when [NODES] name is set", () => {
    expect(nodeIdentity({}, { count: 1 }, 1, true)).toBeUndefined();
    expect(nodeIdentity({}, { count: 1 }, 1, false)).toBeUndefined();
    // A machine of several names itself: its rows and output are a node's.
    expect(nodeIdentity({}, { count: 1, name: "relay-a" }, 1, true)).toEqual({ index: 1, count: 1, name: "relay-a-1" });
    expect(nodeIdentity({}, { count: 1, name: "relay-a" }, 1, false)).toBeUndefined();
  });

  test("the supervisor's environment names the node; [NODES] name replaces the host name", () => {
    expect(nodeIdentity({ SMP_NODE_INDEX: "2", SMP_NODE_COUNT: "3" }, { count: 1, name: "relay" }, 1, true)).toEqual({ index: 2, count: 3, name: "relay-2" });
    // Without SMP_NODE_COUNT: the count this machine runs.
    expect(nodeIdentity({ SMP_NODE_INDEX: "3" }, { count: 4 }, 4, true)).toEqual({ index: 3, count: 4, name: `${host}-3` });
    // Empty, as a unit file's `Environment=SMP_NODE_COUNT=` leaves it: unset, as an empty SMP_NODE_INDEX is.
    expect(nodeIdentity({ SMP_NODE_INDEX: "3", SMP_NODE_COUNT: "" }, { count: 4 }, 4, true)).toEqual({ index: 3, count: 4, name: `${host}-3` });
  });

  test("a bad environment is refused", () => {
    expect(usageError(() => nodeIdentity({ SMP_NODE_INDEX: "3", SMP_NODE_COUNT: "2" }, { count: 1 }, 1, true))).toBe("SMP_NODE_INDEX=3: expected a whole number from 1 to 2 (SMP_NODE_COUNT or [NODES] count)");
    expect(usageError(() => nodeIdentity({ SMP_NODE_INDEX: "x" }, { count: 2 }, 2, true))).toBe("SMP_NODE_INDEX=x: expected a whole number from 1 to 2 (SMP_NODE_COUNT or [NODES] count)");
    expect(usageError(() => nodeIdentity({ SMP_NODE_INDEX: "1", SMP_NODE_COUNT: "0" }, { count: 1 }, 1, true))).toBe(`SMP_NODE_COUNT=0: expected a whole number from 1 to ${MAX_NODES}`);
    expect(usageError(() => nodeIdentity({ SMP_NODE_INDEX: "1" }, { count: 1 }, 1, false))).toBe(
      "SMP_NODE_INDEX=1: nodes need the PostgreSQL store: the SQLite database is used by one server process only",
    );
  });

  test("optional listeners: node N uses the configured port + N - 1; port 0 stays any free port", () => {
    expect(nodePort(5224, { index: 1 })).toBe(5224);
    expect(nodePort(5224, { index: 3 })).toBe(5226);
    expect(nodePort(0, { index: 3 })).toBe(0);
    expect(nodePort(5224, undefined)).toBe(5224);
  });
});
