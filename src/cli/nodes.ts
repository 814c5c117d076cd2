/**
 * `[NODES]` and `start --nodes N` (issue 18): how many server processes ("nodes") serve this one
 * server address on this machine, and which node a process is. Several nodes share ONE store, so
 * they need PostgreSQL; the SQLite database belongs to one process and is refused with more.
 *
 * The supervisor (supervisor.ts) starts each node as the same executable with the same arguments
 * and the node's index in the environment (NODE_INDEX_ENV, NODE_COUNT_ENV); a process started
 * with them (by the supervisor, or by the operator, e.g. one systemd unit per node) is that node.
 */
import { availableParallelism, hostname } from "node:os";
import { UsageError } from "./args.ts";
import type { SectionReader } from "./config-reader.ts";

/** The node's index, 1 … count. */
export const NODE_INDEX_ENV = "SMP_NODE_INDEX";
/** How many nodes run on this machine (optional with NODE_INDEX_ENV; default `[NODES] count`). */
export const NODE_COUNT_ENV = "SMP_NODE_COUNT";

/** This process was started as one node of several (by the supervisor or the operator): NODE_INDEX_ENV is set. */
export function startedAsNode(env: Record<string, string | undefined> = process.env): boolean {
  return (env[NODE_INDEX_ENV] ?? "") !== "";
}

/** What a node sends its supervisor (IPC) once it serves. */
export const READY_MESSAGE = "smp-server node ready";

/** A sane bound: each node holds a store pool of `db_pool_size` PostgreSQL connections. */
export const MAX_NODES = 256;

export interface NodesConfig {
  /** `[NODES] count`: a number, or "auto" (one a core). */
  count: number | "auto";
  /** `[NODES] name`, default the host name: nodes are shown as "<name>-<index>". */
  name?: string;
}

/** A node's identity, as ServerOptions.node carries it. */
export interface NodeIdentity {
  index: number;
  count: number;
  name: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function countValue(v: unknown): number | "auto" | string {
  if (v === "auto") return "auto";
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= MAX_NODES) return v;
  if (typeof v === "string" && /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_NODES) return Number(v);
  return `expected a whole number from 1 to ${MAX_NODES} or "auto" (one node per core), got ${typeof v === "string" ? JSON.stringify(v) : String(v)}`;
}

/** `[NODES]`; `postgres`: whether `[STORE_LOG] db_connection` is set. */
export function readNodes(s: SectionReader, postgres: boolean): NodesConfig {
  const raw = s.raw("count");
  const count = raw === undefined ? 1 : countValue(raw);
  if (typeof count === "string" && count !== "auto") s.fail("count", count);
  if (count !== 1 && !postgres) s.fail("count", `${singleNodeReason(count as number | "auto")} (set [STORE_LOG] db_connection, or count = 1)`);
  const name = s.optString("name");
  if (name !== undefined && !NAME.test(name)) s.fail("name", `expected letters, digits, ".", "_" or "-" (at most 63, starting with a letter or digit), got ${JSON.stringify(name)}`);
  return { count: count as number | "auto", ...(name !== undefined && { name }) };
}

function singleNodeReason(count: number | "auto"): string {
  const what = count === "auto" ? '"auto" (one node per core)' : `${count} nodes`;
  return `${what} need the PostgreSQL store: the SQLite database is used by one server process only`;
}

/** `--nodes N|auto`. */
export function nodesOption(v: string): number | "auto" {
  const c = countValue(v);
  if (typeof c === "string" && c !== "auto") throw new UsageError(`--nodes: ${c}`);
  return c as number | "auto";
}

/** The number of nodes to run, with `--nodes` over `[NODES] count`; refused without PostgreSQL. */
export function nodeCount(flag: number | "auto" | undefined, cfg: NodesConfig, postgres: boolean, file: string): number {
  const c = flag ?? cfg.count;
  if (flag !== undefined && flag !== 1 && !postgres)
    throw new UsageError(`--nodes ${flag}: ${singleNodeReason(flag)}; ${file} has no [STORE_LOG] db_connection`);
  return c === "auto" ? Math.min(MAX_NODES, availableParallelism()) : c;
}

/**
 * The node this process is, when the operator asked for nodes: from the environment the
 * supervisor sets, or node 1 of 1 when `[NODES] name` is set (a machine of several, each naming
 * itself). Otherwise none: a plain server, even on PostgreSQL, keeps the reference's statistics
 * names and control port output. `count` is the count this machine runs (`--nodes`/`[NODES]`),
 * used when the environment does not say.
 */
export function nodeIdentity(env: Record<string, string | undefined>, cfg: NodesConfig, count: number, postgres: boolean): NodeIdentity | undefined {
  const indexText = env[NODE_INDEX_ENV];
  const name = cfg.name ?? hostname().split(".")[0] ?? "node";
  if (indexText === undefined || indexText === "") return postgres && cfg.name !== undefined ? { index: 1, count: 1, name: `${name}-1` } : undefined;
  // Unset or empty (as startedAsNode reads NODE_INDEX_ENV): the count this machine runs.
  const countText = env[NODE_COUNT_ENV] || undefined;
  const n = countText === undefined ? count : Number(countText);
  if ((countText !== undefined && !/^\d+$/.test(countText)) || n < 1 || n > MAX_NODES) throw new UsageError(`${NODE_COUNT_ENV}=${countText}: expected a whole number from 1 to ${MAX_NODES}`);
  const index = Number(indexText);
  if (!/^\d+$/.test(indexText) || index < 1 || index > n) throw new UsageError(`${NODE_INDEX_ENV}=${indexText}: expected a whole number from 1 to ${n} (${NODE_COUNT_ENV} or [NODES] count)`);
  if (!postgres) throw new UsageError(`${NODE_INDEX_ENV}=${indexText}: nodes need the PostgreSQL store: the SQLite database is used by one server process only`);
  return { index, count: n, name: `${name}-${index}` };
}

/**
 * Optional per-node listeners (control port, Prometheus HTTP) cannot share a port: node `index`
 * uses the configured port + index − 1 (port 0, tests: any free port).
 */
export function nodePort(port: number, node: Pick<NodeIdentity, "index"> | undefined): number {
  return port === 0 || node === undefined ? port : port + node.index - 1;
}

/**
 * Why this process does not start: another process holds its name on the store (claimNode) —
 * the server started twice, or two machines with one `[NODES] name` (their rows would mix).
 */
export function duplicateNodeMessage(node: NodeIdentity | undefined, cfg: NodesConfig, schema: string, file: string): string {
  if (node === undefined)
    return `Error: a server without [NODES] name already runs on PostgreSQL schema ${schema}: this server is started twice, or another machine uses the schema. Stop the other one; several machines serving one address each need their own [NODES] name in ${file}.`;
  const name = cfg.name === undefined ? `not set, so the host name ${JSON.stringify(node.name.replace(/-\d+$/, ""))}` : JSON.stringify(cfg.name);
  return `Error: node ${node.name} already runs on PostgreSQL schema ${schema}: this server is started twice, or another machine has the same [NODES] name (${name}). Stop the other one, or give each machine its own [NODES] name in ${file}.`;
}
