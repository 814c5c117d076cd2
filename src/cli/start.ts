/**
 * `start` (Server/Main.hs:runServer): zero-config init when needed, fingerprint check, config,
 * the reference's start-up summary, then the server until SIGINT/SIGTERM.
 */
import { existsSync } from "node:fs";
import { ListenError, openServerStore, startServer, type RunningServer } from "../server/index.ts";
import { redactUri } from "../store/postgres/errors.ts";
import type { Store } from "../store/store.ts";
import { DatabaseStartError } from "../store/sqlite/startup-check.ts";
import { StoreError } from "../store/types.ts";
import { log, setLogTag, type LogLevel } from "../util/log.ts";
import type { RunningWeb } from "../web/server.ts";
import { addressPort, serverAddress } from "./address.ts";
import { CertFileError, checkSavedFingerprint, loadCredentials } from "./certs.ts";
import { loadConfig, type SmpConfig } from "./config.ts";
import { CliError, type Out } from "./errors.ts";
import { refuseToReinitialize } from "./identity-guard.ts";
import { configFile, type Paths } from "./paths.ts";
import { NO_HOST, printServiceInfo, printSourceCode } from "./service-info.ts";
import type { MigrationPolicy } from "../store/migration-confirmation.ts";
import { duplicateNodeMessage, nodeCount, nodeIdentity, nodePort, READY_MESSAGE, startedAsNode } from "./nodes.ts";
import { toServerOptions } from "./server-options.ts";
import { webOptions } from "./web-options.ts";

/** Expiration.hs:showTTL. */
export function showTTL(seconds: number): string {
  if (seconds % 60 !== 0) return `${seconds} seconds`;
  const m = seconds / 60;
  if (m % 60 !== 0) return `${m} minutes`;
  const h = m / 60;
  if (h % 24 !== 0) return `${h} hours`;
  return `${h / 24} days`;
}

/**
 * The reference's start-up lines (runServer, printSMPServerConfig, printServerTransports); with
 * `qr` (qr.ts:terminalQr) the address's QR code too.
 */
export function printStartSummary(cfg: SmpConfig, fingerprint: Uint8Array, paths: Paths, out: Out, qr?: (text: string) => string): void {
  const address = serverAddress(fingerprint, cfg.auth.createPassword, cfg.transport.host ?? NO_HOST, addressPort(cfg.transport.ports));
  printServiceInfo(fingerprint, address, out, qr);
  printSourceCode(cfg.information?.sourceCode, out);
  const pg = cfg.storeLog.postgres;
  if (pg !== undefined) out(`Store: PostgreSQL database ${redactUri(pg.connection)}, schema ${pg.schema}`);
  else out(cfg.storeLog.enable ? `Store: SQLite database in ${paths.dataDir}` : "Store log disabled: queues and messages are kept in memory and lost on restart.");
  for (const p of cfg.transport.ports) out(`Serving SMP protocol on port ${p} (TLS)...`);
  if (!cfg.transport.ports.includes(443))
    out("\nWARNING: the clients will use port 443 by default soon.\nSet `port` in smp-server.toml section [TRANSPORT] to [5223, 443]\n");
  out(`expiring messages after ${showTTL(cfg.storeLog.expireMessagesDays * 86400)}`);
  const ic = cfg.inactiveClients;
  out(ic ? `expiring clients inactive for ${ic.ttlSeconds} seconds every ${ic.checkIntervalSeconds} seconds` : "not expiring inactive clients");
  out(`creating new queues ${cfg.auth.newQueues ? (cfg.auth.createPassword === undefined ? "allowed" : "requires password") : "NOT allowed"}`);
  for (const w of cfg.warnings) out(`Warning: ${w}`);
}

/**
 * qr.ts:terminalQr when the address has a host to show and someone at a terminal to scan it; not
 * into a service manager's log. Drawing it runs the QR library's loops long enough for
 * JavaScriptCore's optimizing compilers, whose code then stays paged in: idle RSS +4 MB
 * (bench/idle-rss.ts --host). `init` always draws it.
 */
async function addressQr(cfg: SmpConfig, o: StartOptions): Promise<((text: string) => string) | undefined> {
  return cfg.transport.host === undefined || o.stdoutIsTTY !== true ? undefined : (await import("./qr.ts")).terminalQr;
}

/** One clear line for what stops start-up (the data directory, a port), not a stack trace. */
function startFailure(e: unknown, paths: Paths, cfg: SmpConfig): string {
  if (e instanceof DatabaseStartError && e.problem === "missing") return missingDatabase(e.path, paths);
  if (e instanceof DatabaseStartError) return `Error: ${e.message}`;
  // A PostgreSQL StoreError names the URI (password redacted) and schema itself.
  if (e instanceof StoreError && cfg.storeLog.postgres !== undefined) return `Error: cannot use the PostgreSQL database: ${e.message}`;
  if (e instanceof StoreError) return `Error: cannot use the database in ${paths.dataDir}: ${e.message}`;
  if (e instanceof ListenError) {
    const at = `cannot listen on port ${e.port} (${e.host})`;
    if (e.code === "EADDRINUSE") return `Error: ${at}: the address is already in use (${e.message})`;
    if (e.code === "EACCES") return `Error: ${at}: permission denied (${e.message}); ports below 1024 need root or CAP_NET_BIND_SERVICE`;
    return `Error: ${at}: ${e.message}`;
  }
  return `Error: the server could not start: ${(e as Error)?.message ?? String(e)}`;
}

function missingDatabase(path: string, paths: Paths): string {
  return (
    `Error: the server is initialized (${configFile(paths)} exists) but its database ${path} does not exist.\n` +
    "Starting on an empty store would lose every queue and message without a word, so the server does not start.\n" +
    `If ${paths.dataDir} is on a volume that is not mounted, mount it; if the file was lost, restore it from a backup.\n` +
    "To start with a new, empty store deliberately (all queues are gone for their clients): smp-server start --create-store"
  );
}

const NO_WEB: RunningWeb = { descriptors: 0, notes: [], warnings: [], stop: () => {} };

export interface StartOptions {
  /** For the server's options; the log itself is set to it by main.ts, before anything is logged. */
  logLevel: LogLevel;
  isRoot: boolean;
  /** `--create-store`: create the database when it is missing (otherwise start-up stops). */
  createStore?: boolean;
  /** `--maintenance` (reference-start.ts): open and close the database, then return undefined. */
  maintenance?: boolean;
  /** `--confirm-migrations` (reference-start.ts); default: upgrade without asking. */
  migrations?: MigrationPolicy;
  /** `--nodes` (nodes.ts): how many nodes this machine runs, for a node started by the environment. */
  nodes?: number | "auto";
  /** stdout is a terminal: the address is also drawn as a QR code (see addressQr). */
  stdoutIsTTY?: boolean;
  /** smp-server.toml as `start` already read it (supervisor.ts:nodesToSupervise); read here when absent. */
  config?: SmpConfig;
}

/** Resolves once the server is running (undefined after --maintenance); signals then close it and exit the process. */
export async function start(paths: Paths, o: StartOptions, out: Out): Promise<RunningServer | undefined> {
  const fresh = !existsSync(configFile(paths));
  if (fresh) {
    refuseToReinitialize(paths, "start");
    out(`smp-server is not initialized (${configFile(paths)} does not exist): initializing with default settings, as \`smp-server init --yes\` would.`);
    const init = await import("./init.ts");
    init.initialize(paths, init.DEFAULT_INIT, o.isRoot, out, true);
    out("");
  }
  let fingerprint: Uint8Array;
  try {
    fingerprint = checkSavedFingerprint(paths.configDir);
  } catch (e) {
    if (e instanceof CertFileError) throw new CliError(e.message);
    throw e;
  }
  // Read once: parsing it twice made smol-toml's comment loop and the reader's per-key calls hot
  // enough for JavaScriptCore's optimizing compiler, whose code (~2 MB) an idle server then kept.
  const cfg = o.config ?? loadConfig(configFile(paths));
  let credentials;
  try {
    credentials = loadCredentials(paths.configDir);
  } catch (e) {
    if (e instanceof CertFileError) throw new CliError(`Error: ${e.message}`);
    throw e;
  }
  const options = toServerOptions(cfg, credentials, { dataDir: paths.dataDir, logLevel: o.logLevel });
  const postgres = cfg.storeLog.postgres !== undefined;
  const node = nodeIdentity(process.env, cfg.nodes, nodeCount(o.nodes, cfg.nodes, postgres, cfg.file), postgres);
  // Started as one of several nodes on this machine (by the supervisor or the operator).
  const sharing = node !== undefined && startedAsNode();
  if (node !== undefined) {
    options.node = node;
    if (sharing) setLogTag(`[${node.name}] `);
    options.transport.reusePort = sharing;
    if (options.control !== undefined) options.control.port = nodePort(options.control.port, node);
    if (options.monitor?.http !== undefined) options.monitor.http.port = nodePort(options.monitor.http.port, node);
  }
  options.store.createIfMissing = fresh || o.createStore === true;
  options.store.migrations = o.migrations;
  // The database first: nothing (such as the web site's files) is written to a data directory
  // whose database is missing or damaged.
  let store: Store;
  try {
    store = await openServerStore(options);
  } catch (e) {
    throw new CliError(startFailure(e, paths, cfg));
  }
  if (o.maintenance) {
    // Server.hs:smpServer in maintenance mode: the start-up tasks (here: opening, creating or
    // migrating the database), then the stop tasks, then exit.
    await store.close();
    printStartSummary(cfg, fingerprint, paths, out, await addressQr(cfg, o));
    out("Server started in 'maintenance' mode, exiting");
    return undefined;
  }
  // One process per node name on the store: a duplicate would mix its statistics with ours.
  if (store.cluster !== undefined && cfg.storeLog.postgres !== undefined) {
    let claimed: boolean;
    try {
      claimed = await store.cluster.claimNode(node?.name ?? "");
    } catch (e) {
      await store.close();
      throw new CliError(`Error: cannot use the PostgreSQL database: ${redactUri((e as Error).message)}`);
    }
    if (!claimed) {
      await store.close();
      throw new CliError(duplicateNodeMessage(node, cfg.nodes, cfg.storeLog.postgres.schema, cfg.file));
    }
  }
  // Before SMP: a port shared with the web site needs the web side ready when it starts listening.
  // The web code only when [WEB] asks for a site or a port.
  const wanted = cfg.web.staticPath !== undefined || cfg.web.http !== undefined || cfg.web.https !== undefined;
  const site = { ...webOptions(cfg, fingerprint), ...(sharing && node !== undefined && { nodes: { reusePort: true, generate: node.index === 1 } }) };
  const web: RunningWeb = wanted ? (await import("../web/server.ts")).startWeb(site) : NO_WEB;
  if (web.shared !== undefined) options.transport.web = web.shared;
  options.transport.reservedDescriptors = web.descriptors;
  let smp: RunningServer;
  try {
    smp = await startServer(options, store);
  } catch (e) {
    web.stop();
    throw new CliError(startFailure(e, paths, cfg));
  }
  // Only now: the summary says the server is serving, so it follows the checks that can fail.
  // Once per machine: the other nodes of it serve the same address.
  if (!sharing || node?.index === 1) printStartSummary(cfg, fingerprint, paths, out, await addressQr(cfg, o));
  else for (const w of cfg.warnings) out(`Warning: ${w}`);
  for (const n of web.notes) out(n);
  for (const w of web.warnings) out(`Warning: ${w}`);
  const server: RunningServer = {
    ...smp,
    close: () => {
      web.stop();
      return smp.close();
    },
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A node: Ctrl-C reaches the supervisor and every node at once, and the supervisor then
      // sends SIGTERM too; forcing is the supervisor's (it kills the nodes on a second signal).
      if (sharing) return;
      log.warn(`${signal} again: exiting without waiting for the server to close`);
      process.exit(1);
    }
    stopping = true;
    log.note(`${signal} received, stopping the server`);
    server.close().then(
      () => process.exit(0),
      (e) => {
        log.error(`error while stopping: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  if (sharing && process.send !== undefined) {
    // The supervisor's IPC channel: tell it this node serves; its end means the supervisor is
    // gone (even killed), and a node without one would serve on, unsupervised.
    process.on("disconnect", () => stop("supervisor gone"));
    process.send(READY_MESSAGE);
  }
  // One full collection of what start-up left (configuration, certificates, migrations) before
  // the server settles: on a small board an idle relay should hold only what it serves with.
  // After the signal handlers: a stop requested during the collection must still be clean.
  Bun.gc(true);
  // Then JavaScriptCore drops the compiled code of everything start-up ran (recompiled only if it
  // runs again) and returns freed pages: ~0.8 MB less idle RSS (bench/idle-rss.ts). Deprecated in
  // the types but kept by Bun; there is no other handle on JSC's shrinkFootprintWhenIdle.
  Bun.shrink();
  return server;
}
