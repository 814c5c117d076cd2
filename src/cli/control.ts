/**
 * `smp-server control CMD…` and `smp-server stats`: talk to the running server's control port
 * (127.0.0.1:[TRANSPORT] control_port) with the password from the configuration, so operators
 * need no telnet or nc. The session is `auth`, the command, then `quit`: everything the server
 * writes before it closes the connection is the reply.
 */
import { connect } from "node:net";
import { GREETING } from "../server/control/session.ts";
import { loadConfig } from "./config.ts";
import { CliError, type Out } from "./errors.ts";
import { nodePort } from "./nodes.ts";
import { configFile, type Paths } from "./paths.ts";

export type ControlRole = "admin" | "user";

const REPLY_TIMEOUT_MS = 30_000;

/**
 * Lines the server sent after the greeting, until it closed the connection. A server that does not
 * greet (a session refused at once) has all its lines returned: they are the reason.
 */
export function controlSession(port: number, lines: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const sock = connect({ host: "127.0.0.1", port }, () => sock.write(lines.map((l) => `${l}\n`).join("")));
    sock.setEncoding("utf8");
    sock.setTimeout(REPLY_TIMEOUT_MS, () => sock.destroy(new Error(`no reply from the control port within ${REPLY_TIMEOUT_MS / 1000} s`)));
    sock.on("data", (d: string) => (buf += d));
    sock.on("error", (e) => reject(new CliError(`Error: cannot use the control port 127.0.0.1:${port}: ${e.message}`)));
    sock.on("close", () => {
      const all = buf.split("\n");
      if (all.at(-1) === "") all.pop();
      resolve(GREETING.every((g, i) => all[i] === g) ? all.slice(GREETING.length) : all);
    });
  });
}

/** `node`: which of several nodes on this machine (`--node`); each listens on its nodes.ts:nodePort. */
function controlTarget(paths: Paths, role: ControlRole | undefined, node: number): { port: number; password?: string } {
  const cfg = loadConfig(configFile(paths));
  const configured = cfg.transport.controlPort;
  if (configured === undefined) throw new CliError(`Error: the control port is not enabled: set [TRANSPORT] control_port in ${configFile(paths)} and restart the server.`);
  const port = nodePort(configured, { index: node });
  if (port > 65535) throw new CliError(`Error: --node ${node}: control_port ${configured} + ${node - 1} is not a port`);
  const { controlPortAdminPassword: admin, controlPortUserPassword: user } = cfg.auth;
  const password = role === "admin" ? admin : role === "user" ? user : (admin ?? user);
  if (role !== undefined && password === undefined) throw new CliError(`Error: [AUTH] control_port_${role}_password is not set in ${configFile(paths)}`);
  return password === undefined ? { port } : { port, password };
}

/** Runs one command; the exit code is 1 when the server answered an error or AUTH. */
export async function runControl(paths: Paths, command: string, role: ControlRole | undefined, out: Out, node = 1): Promise<number> {
  if (/[\r\n]/.test(command)) throw new CliError("Error: one command per call");
  const t = controlTarget(paths, role, node);
  const reply = await controlSession(t.port, [...(t.password === undefined ? [] : [`auth ${t.password}`]), command, "quit"]);
  let lines = reply;
  if (t.password !== undefined) {
    const roleLine = reply[0] ?? "";
    if (!/^Current role is CPR(Admin|User)/.test(roleLine)) {
      if (roleLine.startsWith("Current role is")) throw new CliError(`Error: the control port refused the configured password (${roleLine})`);
      // Not an answer to `auth`: say what the server said (e.g. all its sessions are taken).
      throw new CliError(`Error: the control port did not accept the session: ${roleLine || "no answer"}`);
    }
    lines = reply.slice(1);
  }
  for (const l of lines) out(l);
  const failed = lines.length > 0 && (lines[0] === "AUTH" || lines[0]!.startsWith("error"));
  return failed ? 1 : 0;
}

/** `stats` lines ("name: value") → rows; values that are plain numbers also as numbers. */
function statRows(lines: readonly string[]): { name: string; value: string; n: number | null }[] {
  return lines.map((l) => {
    const i = l.indexOf(": ");
    const name = i < 0 ? l : l.slice(0, i);
    const value = i < 0 ? "" : l.slice(i + 2);
    return { name, value, n: /^-?\d+$/.test(value) ? Number(value) : null };
  });
}

export interface StatsView {
  /** Refresh every this many seconds (a live view) instead of printing once. */
  watchSeconds?: number;
  /** Stop after this many tables (with watchSeconds); unlimited when absent. */
  count?: number;
}

/**
 * `smp-server stats`: the control port's `stats` as an aligned table. With --watch it redraws
 * every N seconds and adds each counter's change per second since the previous table.
 */
export async function printStats(paths: Paths, role: ControlRole | undefined, out: Out, view: StatsView = {}, node = 1): Promise<number> {
  let prev: Map<string, number> | null = null;
  let prevAt = 0;
  for (let i = 0; view.count === undefined || i < view.count; i++) {
    if (i > 0) await Bun.sleep(view.watchSeconds! * 1000);
    const lines: string[] = [];
    const code = await runControl(paths, "stats", role, (l) => lines.push(l), node);
    if (code !== 0) {
      for (const l of lines) out(l);
      return code;
    }
    const now = Date.now();
    const rows = statRows(lines);
    const width = Math.max(...rows.map((r) => r.name.length));
    // Numbers right-aligned among themselves; text values (times, proxy groups) just follow.
    const vWidth = Math.max(...rows.filter((r) => r.n !== null).map((r) => r.value.length), 5);
    const rate = (r: (typeof rows)[number]) => {
      const p = prev?.get(r.name);
      if (r.n === null || p === undefined) return "";
      const perSec = ((r.n - p) * 1000) / (now - prevAt);
      return perSec === 0 ? "" : `${perSec > 0 ? "+" : ""}${perSec.toFixed(2)}/s`;
    };
    if (view.watchSeconds !== undefined) out(`\x1b[H\x1b[2J${new Date(now).toISOString()}  (every ${view.watchSeconds} s; Ctrl-C to stop)`);
    out(`${"statistic".padEnd(width)}  ${"value".padStart(vWidth)}${view.watchSeconds !== undefined ? "  change" : ""}`);
    out(`${"-".repeat(width)}  ${"-".repeat(vWidth)}`);
    for (const r of rows) out(`${r.name.padEnd(width)}  ${(r.n === null ? r.value : r.value.padStart(vWidth))}${view.watchSeconds !== undefined ? `  ${rate(r)}` : ""}`.trimEnd());
    prev = new Map(rows.filter((r) => r.n !== null).map((r) => [r.name, r.n!]));
    prevAt = now;
    if (view.watchSeconds === undefined) break;
  }
  return 0;
}
