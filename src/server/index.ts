/**
 * Starting and stopping the server: the store, one TLS listener per port, the periodic jobs.
 */
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { openSqliteStore } from "../store/sqlite/open.ts";
import { checkDatabaseFile } from "../store/sqlite/startup-check.ts";
import type { Store } from "../store/store.ts";
import { listenTLS, type TlsServer, type TlsServerConfig } from "../transport/tls/index.ts";
import { tlsStream } from "../transport/tls-stream.ts";
import { log } from "../util/log.ts";
import type { ServerOptions } from "./options.ts";
import { SmpServer } from "./server.ts";
import { startJobs } from "./jobs.ts";
import { createNamesService } from "./names/service.ts";
import { Admission } from "../transport/admission.ts";
import { connectionBound, fileDescriptorLimit, RefusalLog, watchFileDescriptors, watchPartialBlocks } from "./connection-limits.ts";
import { Monitor, SocketCounters } from "./monitor/index.ts";
import type { ControlServer } from "./control/server.ts";

export interface RunningServer {
  /** Bound ports, in the order of `options.transport.ports` (useful with port 0 in tests). */
  readonly ports: number[];
  readonly server: SmpServer;
  readonly monitor: Monitor;
  /** The control port, when configured and it could be opened. */
  readonly control: ControlServer | null;
  /** Accepted connections open now (TLS setup included); `suspended` by the control port. */
  readonly admission: Admission;
  close(): Promise<void>;
}

export const DB_FILE = "smp-server.sqlite";

/** A listener that could not be opened, with the port (Bun's own message names only the host). */
export class ListenError extends Error {
  override name = "ListenError";
  constructor(
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

function listenOrExplain(config: TlsServerConfig): TlsServer {
  try {
    return listenTLS(config);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    throw new ListenError(config.hostname, config.port, typeof code === "string" ? code : undefined, (e as Error).message);
  }
}

/**
 * The server's database, checked first (store/sqlite/startup-check.ts): the CLI opens it before
 * anything else writes to the data directory (the web site), then hands it to startServer.
 */
export async function openServerStore(options: ServerOptions): Promise<Store> {
  const pg = options.store.postgres;
  // The schema must exist (as the reference's `createSchema = False`): a missing one means a wrong URI or lost data.
  const migrations = options.store.migrations;
  // Loaded only when configured, like the control port and the metrics endpoint: an idle server holds only what it uses.
  if (pg !== undefined) return (await import("../store/postgres/open.ts")).openPostgresStore({ ...pg, msgQueueQuota: options.store.msgQueueQuota, migrations });
  const path = options.store.persistent ? join(options.dataDir, DB_FILE) : ":memory:";
  // Only a store that may be created gets its directory: an unmounted volume stays empty.
  if (path !== ":memory:" && checkDatabaseFile(path, options.store.createIfMissing === true) === "new")
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // A small page cache: memory must not grow with the number of queues (low-memory boards).
  return openSqliteStore({ path, msgQueueQuota: options.store.msgQueueQuota, cacheSizeKiB: 8192, migrations });
}

/** The node's name in the cluster registry: `ServerOptions.node.name` when started as one of N, else host and process. */
function nodeName(options: ServerOptions): string {
  return options.node?.name ?? `${hostname()}-${process.pid}`;
}

/** Runs the server on `store` (closed with it), or on openServerStore(options). */
export async function startServer(options: ServerOptions, store?: Store): Promise<RunningServer> {
  const db = store ?? (await openServerStore(options));
  const srv = new SmpServer(options, db);
  const c = options.credentials;
  const listeners: TlsServer[] = [];
  const t = options.transport;
  const fdLimit = fileDescriptorLimit();
  const controlPort = options.control === undefined ? undefined : await import("./control/server.ts");
  const metricsHttp = options.monitor?.http === undefined ? undefined : await import("./monitor/http.ts");
  // Each optional listener: its connection bound and its listening socket.
  const reserved =
    (t.reservedDescriptors ?? 0) + (metricsHttp !== undefined ? metricsHttp.MAX_METRICS_CONNECTIONS + 1 : 0) + (controlPort !== undefined ? controlPort.MAX_SESSIONS + 1 : 0);
  const bound = connectionBound(t.maxConnections, fdLimit, reserved);
  if (bound < t.maxConnections)
    log.warn(`max_connections is ${t.maxConnections}, but with ${fdLimit} file descriptors (ulimit -n) at most ${bound} connections are accepted${reserved > 0 ? ` (${reserved} kept for the metrics endpoint, control port and web ports)` : ""}; raise the limit (e.g. LimitNOFILE= in a systemd unit)`);
  const limits = { maxConnections: bound, maxPerAddress: t.maxConnectionsPerAddress ?? 0, limitLoopback: t.limitLoopbackPerAddress === true };
  const admission = new Admission(limits);
  const refusals = new RefusalLog(srv, limits);
  const sockets = options.transport.ports.map(() => new SocketCounters());
  const monitor = new Monitor(srv, options.dataDir, options.monitor ?? { logStats: false, version: "" }, sockets, () => admission.open);
  try {
    // Before the first connection: its subscriptions are claimed, and other nodes' events reach it.
    await srv.cluster?.start(nodeName(options));
    await monitor.restore();
    // An optional role: a resolver that is down degrades RSLV (logged, counted), never start-up.
    if (options.names !== undefined) srv.names = await createNamesService(options.names, { stats: srv.namesStats, healthCheck: "warn" });
    for (const [i, port] of options.transport.ports.entries()) {
      const counters = sockets[i]!;
      listeners.push(
        listenOrExplain({
          hostname: options.transport.bindHost,
          port,
          credentials: { certPem: c.certPem, chainPem: c.caPem, keyPem: c.keyPem },
          tlsSetupTimeoutMs: options.timeouts.tlsSetupMs,
          ...(options.transport.web?.port === port && { sniHandoff: options.transport.web.handoff }),
          ...(options.transport.reusePort === true && { reusePort: true }),
          // Counted from TCP accept: connections that never finish TLS setup or never send
          // their hello count too, or they could be opened without limit.
          admission,
          onRefused: (why) => {
            counters.accepted++;
            counters.closed++;
            refusals.refused(why);
          },
          onConnection: (conn) => {
            counters.accepted++;
            void srv.runConnection(tlsStream(conn)).finally(() => counters.closed++);
          },
          onHandshakeError: (reason) => {
            if (options.transport.logTlsErrors) log.warn(`TLS handshake failed: ${reason}`);
          },
        }),
      );
    }
  } catch (e) {
    for (const l of listeners) l.stop(true);
    await db.close();
    throw e;
  }
  listeners.forEach((l, i) => (sockets[i]!.port = l.port));
  const jobs = startJobs(srv);
  await monitor.start();
  let control: ControlServer | null = null;
  if (options.control !== undefined && controlPort !== undefined) {
    try {
      control = controlPort.startControlServer({ srv, monitor, options: options.control, admission });
      log.info(`control port on 127.0.0.1:${control.port}`);
    } catch (e) {
      // Optional: SMP keeps running without it.
      log.error(`control port 127.0.0.1:${options.control.port} not opened: ${(e as Error).message}`);
    }
  }
  const fds = watchFileDescriptors(listeners, fdLimit);
  const blocks = t.partialBlockTimeoutMs ? watchPartialBlocks(srv, t.partialBlockTimeoutMs) : null;
  let closed = false;
  return {
    ports: listeners.map((l) => l.port),
    server: srv,
    monitor,
    control,
    admission,
    async close() {
      if (closed) return;
      closed = true;
      control?.stop();
      jobs.stop();
      srv.cluster?.stop();
      fds.stop();
      blocks?.stop();
      refusals.stop();
      for (const l of listeners) l.stop(false);
      srv.closeAll();
      for (const l of listeners) l.stop(true);
      await monitor.stop();
      await db.close();
    },
  };
}
