/**
 * Validated configuration + loaded certificates → the ServerOptions the server runs with.
 * Fixed values are the reference's hard-coded ones (Server/Main.hs:serverConfig).
 */
import { utf8 } from "../encoding/bytes.ts";
import type { Credentials, ServerOptions } from "../server/options.ts";
import type { LogLevel } from "../util/log.ts";
import type { NamesConfig } from "../server/names/config.ts";
import { TLS_SETUP_TIMEOUT_MS } from "../transport/tls/params.ts";
import type { SmpConfig } from "./config.ts";
import { NO_HOST } from "./service-info.ts";
import { PRODUCT_VERSION } from "./version.ts";

export const MSG_QUEUE_QUOTA = 128; // Server/Env/STM.hs:defaultMsgQueueQuota
export const SMP_HANDSHAKE_TIMEOUT_MS = 120_000; // Server/Main.hs:serverConfig smpHandshakeTimeout

export function toServerOptions(cfg: SmpConfig, credentials: Credentials, run: { dataDir: string; logLevel: LogLevel }): ServerOptions {
  return {
    transport: {
      ports: [...cfg.transport.ports],
      bindHost: cfg.transport.bindHost,
      host: cfg.transport.host ?? NO_HOST,
      logTlsErrors: cfg.transport.logTlsErrors,
      maxConnections: cfg.transport.maxConnections,
      maxConnectionsPerAddress: cfg.transport.maxConnectionsPerAddress,
      partialBlockTimeoutMs: cfg.transport.partialBlockTimeoutSeconds * 1000,
    },
    credentials,
    dataDir: run.dataDir,
    auth: {
      allowNewQueues: cfg.auth.newQueues,
      ...(cfg.auth.createPassword !== undefined && { createPassword: utf8(cfg.auth.createPassword) }),
    },
    store: {
      persistent: cfg.storeLog.enable,
      expireMessagesDays: cfg.storeLog.expireMessagesDays,
      expireMessagesOnStart: cfg.storeLog.expireMessagesOnStart,
      expireMessagesOnSend: cfg.storeLog.expireMessagesOnSend,
      expireNtfsHours: cfg.storeLog.expireNtfsHours,
      msgQueueQuota: MSG_QUEUE_QUOTA,
      ...(cfg.storeLog.postgres !== undefined && {
        postgres: { uri: cfg.storeLog.postgres.connection, schema: cfg.storeLog.postgres.schema, poolSize: cfg.storeLog.postgres.poolSize },
      }),
    },
    ...(cfg.inactiveClients && { inactiveClients: { ...cfg.inactiveClients } }),
    timeouts: { tlsSetupMs: TLS_SETUP_TIMEOUT_MS, handshakeMs: SMP_HANDSHAKE_TIMEOUT_MS },
    // allowSMPProxy = True is hard-coded in the reference.
    proxy: {
      enabled: true,
      clientConcurrency: cfg.proxy.clientConcurrency,
      hostMode: cfg.proxy.hostMode,
      requiredHostMode: cfg.proxy.requiredHostMode,
      socksMode: cfg.proxy.socksMode,
      ...(cfg.proxy.ownServerDomains.length > 0 && { ownServerDomains: [...cfg.proxy.ownServerDomains] }),
      ...(cfg.proxy.socksProxy !== undefined && { socksProxy: cfg.proxy.socksProxy }),
    },
    ...(cfg.names.enable && { names: namesOptions(cfg.names) }),
    monitor: {
      logStats: cfg.storeLog.logStats,
      ...(cfg.storeLog.prometheusIntervalSeconds !== undefined && { prometheusIntervalSeconds: cfg.storeLog.prometheusIntervalSeconds }),
      ...(cfg.prometheus.http !== undefined && { http: { ...cfg.prometheus.http } }),
      version: PRODUCT_VERSION,
    },
    ...(cfg.transport.controlPort !== undefined && {
      control: {
        port: cfg.transport.controlPort,
        ...(cfg.auth.controlPortAdminPassword !== undefined && { adminPassword: cfg.auth.controlPortAdminPassword }),
        ...(cfg.auth.controlPortUserPassword !== undefined && { userPassword: cfg.auth.controlPortUserPassword }),
        dailyBlockQueueQuota: cfg.auth.dailyBlockQueueQuota,
      },
    }),
    logLevel: run.logLevel,
  };
}

/** [NAMES] with enable = true (readNames has then checked the endpoint is present and valid). */
function namesOptions(n: SmpConfig["names"]): NamesConfig {
  if (n.resolverEndpoint === undefined) throw new Error("[NAMES] resolver_endpoint is required when enable = true");
  return {
    resolverEndpoint: n.resolverEndpoint,
    ...(n.resolverAuth !== undefined && { resolverAuth: n.resolverAuth }),
    resolverTimeoutMs: n.resolverTimeoutMs,
    resolverMaxResponseBytes: n.resolverMaxResponseBytes,
    resolverConcurrency: n.resolverConcurrency,
  };
}
