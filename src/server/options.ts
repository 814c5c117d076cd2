/**
 * Everything the running server needs, already validated. The CLI builds this from
 * smp-server.toml (src/cli/config) and the certificate files; tests build it directly.
 */
import type { SniHandoff } from "../transport/tls/index.ts";
import type { NamesConfig } from "./names/config.ts";
import type { MigrationPolicy } from "../store/migration-confirmation.ts";

export interface TransportOptions {
  /** Listener ports, each a TLS listener (INI `[TRANSPORT] port`, default 5223,443). */
  ports: number[];
  /** Bind address; "::" listens on IPv6 and IPv4. */
  bindHost: string;
  /** Public host names printed in the server address (INI `[TRANSPORT] host`). */
  host: string;
  logTlsErrors: boolean;
  /**
   * Upper bound on simultaneous client connections, counted from TCP accept (TLS setup
   * included), lowered to what the file descriptor limit allows (ours; the reference has none).
   */
  maxConnections: number;
  /** The port (as configured) shared with the web site: ClientHellos with SNI go to `handoff`. */
  web?: { port: number; handoff: SniHandoff };
  /**
   * Descriptors held by listeners outside the server (the web site's own ports), left free by
   * the connection bound beside those of the server's optional listeners (metrics, control port).
   */
  reservedDescriptors?: number;
  /** Connections from one IPv4 address or IPv6 /64 (ours); 0 = no bound. Loopback is exempt. */
  maxConnectionsPerAddress?: number;
  /** Bound loopback peers per address too (tests only). */
  limitLoopbackPerAddress?: boolean;
  /** A block begun and not completed within this is closed (ours); 0 = no timeout. */
  partialBlockTimeoutMs?: number;
  /** SO_REUSEPORT on the SMP ports: several nodes on this machine listen on the same ports. */
  reusePort?: boolean;
}

export interface Credentials {
  /** DER of server.crt then ca.crt, as sent in the TLS chain and the server hello. */
  chainDer: Uint8Array[];
  /** PEM for the TLS stack. */
  certPem: string;
  caPem: string;
  keyPem: string;
  /** The online (server.crt) signing key, PKCS#8 DER, Ed25519. */
  serverKeyPkcs8: Uint8Array;
  /** SHA-256 of ca.crt DER: the server identity (`keyHash`). */
  fingerprint: Uint8Array;
}

/** The proxy role (PRXY/PFWD) and its outgoing connections to destination routers ([PROXY]). */
export interface ProxyOptions {
  enabled: boolean;
  /** Proxy commands one client connection may have in progress (INI `client_concurrency`, 32). */
  clientConcurrency: number;
  /** Which of the destination's hosts to use (INI `host_mode`, default public). */
  hostMode?: "public" | "onion";
  /** No host of that kind → `PROXY BROKER HOST` instead of the first host (INI `required_host_mode`). */
  requiredHostMode?: boolean;
  /** SOCKS5 proxy for outgoing connections (INI `socks_proxy`); auth undefined = isolate by session, null = none. */
  socksProxy?: { host: string; port: number; auth?: { username: string; password: string } | null };
  /** Destinations counted apart in the "own" proxy statistics (INI `own_server_domains`). */
  ownServerDomains?: readonly string[];
  /** "onion" (default): SOCKS only for .onion hosts; "always". */
  socksMode?: "onion" | "always";
  /** TLS + SMP handshake with a destination (reference background tcpConnectTimeout 45 s). */
  connectTimeoutMs?: number;
  /** RFWD response timeout (reference background tcpTimeout 30 s). */
  commandTimeoutMs?: number;
  /** How long a failed connection's error is answered before connecting again (reference 30 s). */
  persistErrorMs?: number;
}

/** Statistics over time (src/server/monitor): [STORE_LOG] log_stats, prometheus_interval; [PROMETHEUS]. */
export interface MonitorOptions {
  /** Write `smp-server-stats.daily.log` at 00:00 UTC. */
  logStats: boolean;
  /** Rewrite `smp-server-metrics.txt` every this many seconds. */
  prometheusIntervalSeconds?: number;
  /** Serve GET /metrics here (ours; off unless configured). */
  http?: { host: string; port: number };
  /** Printed in simplex_smp_info. */
  version: string;
}

/** The control port (src/server/control): [TRANSPORT] control_port, [AUTH] control_port_*_password. */
export interface ControlOptions {
  /** Always bound to 127.0.0.1; 0 = any free port (tests). */
  port: number;
  adminPassword?: string;
  userPassword?: string;
  /** `[AUTH] daily_block_queue_quota`: 0 = unlimited, negative = blocking refused. */
  dailyBlockQueueQuota: number;
  /** A session not authenticated within this is closed (ours; default 30 s, shorter in tests). */
  authDeadlineMs?: number;
}

export interface ServerOptions {
  transport: TransportOptions;
  credentials: Credentials;
  /** Directory holding the SQLite store. */
  dataDir: string;
  auth: {
    allowNewQueues: boolean;
    /** Basic auth for NEW and PRXY; undefined = none required. */
    createPassword?: Uint8Array;
  };
  store: {
    /** false ([STORE_LOG] enable = off): nothing survives a restart (an in-memory database). */
    persistent: boolean;
    /**
     * A missing database file is created (a fresh server, `start --create-store`); otherwise
     * start-up stops (ours: the reference would start on an empty store).
     */
    createIfMissing?: boolean;
    expireMessagesDays: number;
    expireMessagesOnStart: boolean;
    expireMessagesOnSend: boolean;
    expireNtfsHours: number;
    /** Messages per queue before ERR QUOTA (reference: 128, not configurable there). */
    msgQueueQuota: number;
    /** Set: queues and messages are in PostgreSQL (`persistent` is then irrelevant). */
    postgres?: { uri: string; schema: string; poolSize: number };
    /** Upgrading an existing database (`start --confirm-migrations`); default: without asking. */
    migrations?: MigrationPolicy;
  };
  inactiveClients?: { ttlSeconds: number; checkIntervalSeconds: number };
  /** SMP handshake timeout (reference 120 s) and TLS setup timeout (reference 60 s). */
  timeouts: { tlsSetupMs: number; handshakeMs: number };
  proxy: ProxyOptions;
  monitor?: MonitorOptions;
  /** Undefined = no control port. */
  control?: ControlOptions;
  /** The names role (RSLV); undefined = no resolver, RSLV answers ERR NAME NO_RESOLVER. */
  names?: NamesConfig;
  logLevel: "trace" | "debug" | "info" | "note" | "warn" | "error";
  /**
   * This process as one node of several serving the address on one PostgreSQL store (issue 18):
   * `index` 1 … `count` on this machine, `name` what the control port and metrics show
   * ("<[NODES] name or host name>-<index>"). Absent: a plain single server (SQLite).
   */
  node?: { index: number; count: number; name: string };
  /**
   * On PostgreSQL: how often a node sweeps a slice of its subscriptions for events that were lost
   * (cluster-subscribers.ts; default 10 s). Not in the INI file: tests shorten it.
   */
  clusterSweepMs?: number;
}
