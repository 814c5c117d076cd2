/**
 * Starting and stopping the server: the store, one TLS listener per port, the periodic jobs.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { openSqliteStore } from "../store/sqlite/open.ts";
import type { Store } from "../store/store.ts";
import { listenTLS, type TlsServer } from "../transport/tls/index.ts";
import { tlsStream } from "../transport/tls-stream.ts";
import { log } from "../util/log.ts";
import type { ServerOptions } from "./options.ts";
import { SmpServer } from "./server.ts";
import { startJobs } from "./jobs.ts";
import { createNamesService } from "./names/service.ts";
import { Monitor, SocketCounters } from "./monitor/index.ts";
import { startControlServer, type ControlServer } from "./control/server.ts";
import type { Admission } from "./control/session.ts";

export interface RunningServer {
  /** Bound ports, in the order of `options.transport.ports` (useful with port 0 in tests). */
  readonly ports: number[];
  readonly server: SmpServer;
  readonly monitor: Monitor;
  /** The control port, when configured and it could be opened. */
  readonly control: ControlServer | null;
  /** `suspend` / `resume` on the control port. */
  readonly admission: Admission;
  close(): Promise<void>;
}

export const DB_FILE = "smp-server.sqlite";

export async function startServer(options: ServerOptions, store?: Store): Promise<RunningServer> {
  let db = store;
  if (db === undefined) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const path = options.store.persistent ? join(options.dataDir, DB_FILE) : ":memory:";
    // A small page cache: memory must not grow with the number of queues (low-memory boards).
    db = openSqliteStore({ path, msgQueueQuota: options.store.msgQueueQuota, cacheSizeKiB: 8192 });
  }
  const srv = new SmpServer(options, db);
  const c = options.credentials;
  const listeners: TlsServer[] = [];
  let openConnections = 0;
  const sockets = options.transport.ports.map(() => new SocketCounters());
  const admission: Admission = { suspended: false };
  const monitor = new Monitor(srv, options.dataDir, options.monitor ?? { logStats: false, version: "" }, sockets, () => openConnections);
  try {
    await monitor.restore();
    if (options.names !== undefined) srv.names = await createNamesService(options.names, { stats: srv.namesStats });
    for (const [i, port] of options.transport.ports.entries()) {
      const counters = sockets[i]!;
      listeners.push(
        listenTLS({
          hostname: options.transport.bindHost,
          port,
          credentials: { certPem: c.certPem, chainPem: c.caPem, keyPem: c.keyPem },
          tlsSetupTimeoutMs: options.timeouts.tlsSetupMs,
          ...(options.transport.web?.port === port && { sniHandoff: options.transport.web.handoff }),
          onConnection: (conn) => {
            counters.accepted++;
            // Counted from TLS setup, not from the SMP handshake: connections that never send
            // their hello must count too, or they could be opened without limit.
            if (openConnections >= options.transport.maxConnections || admission.suspended) {
              counters.closed++;
              conn.destroy();
              return;
            }
            openConnections++;
            void srv.runConnection(tlsStream(conn)).finally(() => {
              openConnections--;
              counters.closed++;
            });
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
  if (options.control !== undefined) {
    try {
      control = startControlServer({ srv, monitor, options: options.control, admission });
      log.info(`control port on 127.0.0.1:${control.port}`);
    } catch (e) {
      // Optional: SMP keeps running without it.
      log.error(`control port 127.0.0.1:${options.control.port} not opened: ${(e as Error).message}`);
    }
  }
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
      for (const l of listeners) l.stop(false);
      srv.closeAll();
      for (const l of listeners) l.stop(true);
      await monitor.stop();
      await db.close();
    },
  };
}
