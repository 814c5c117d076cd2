/**
 * smp-server.toml: the reference's smp-server.ini sections and keys (Server/Main.hs:serverConfig,
 * readNamesConfig, serverPublicInfo; Server/CLI.hs:iniTransports) with the same meanings and
 * code defaults, read strictly. docs/configuration.md lists every key and its status here.
 */
import { readFileSync } from "node:fs";
import { parse as parseToml, TomlError } from "smol-toml";
import { NAMES_DEFAULTS, parseResolverAuth, validateResolverUrl, type NamesConfig, type ResolverAuth } from "../server/names/index.ts";
import { HOSTING_TYPES, type Contacts, type Entity, type InformationConfig } from "../web/info.ts";
import { ConfigError, SectionReader, describe, isTable, rangeReason, type Table } from "./config-reader.ts";
import { readNodes, type NodesConfig } from "./nodes.ts";

export { ConfigError } from "./config-reader.ts";

export { HOSTING_TYPES, type HostingType, type InformationConfig } from "../web/info.ts";

export interface StoreLogConfig {
  /** Persist queues and messages in the SQLite database in the data directory (off = in memory only). */
  enable: boolean;
  restoreMessages: boolean;
  expireMessagesDays: number;
  expireMessagesOnStart: boolean;
  expireMessagesOnSend: boolean;
  expireNtfsHours: number;
  logStats: boolean;
  prometheusIntervalSeconds?: number;
  /** Present when `db_connection` is set: queues and messages are in PostgreSQL, not SQLite. */
  postgres?: PostgresConfig;
}

/** Server/Main/Init.hs:`defaultDBOpts` schema: `db_schema` and `import --schema` default to it. */
export const DEFAULT_DB_SCHEMA = "smp_server";

/** Server/CLI.hs:`iniDBOptions` and Server/Main.hs:`iniDeletedTTL`. */
export interface PostgresConfig {
  /** libpq URI (`db_connection`). */
  connection: string;
  /** `db_schema`, default DEFAULT_DB_SCHEMA. */
  schema: string;
  /** `db_pool_size`, default 10. */
  poolSize: number;
  /** `db_deleted_ttl`, seconds (default 21 days): accepted; deleted queues are removed at once here. */
  deletedTtlSeconds: number;
}

export interface AuthConfig {
  newQueues: boolean;
  createPassword?: string;
  controlPortAdminPassword?: string;
  controlPortUserPassword?: string;
  /** 0 = unlimited, negative = blocking prohibited (reference semantics). */
  dailyBlockQueueQuota: number;
}

export interface TransportConfig {
  /** Public host name(s), comma-separated; only printed in the server address. */
  host?: string;
  ports: number[];
  /** The `port` value as the reference would have it in the INI (`5223,443`), for the printed address. */
  portText: string;
  bindHost: string;
  logTlsErrors: boolean;
  controlPort?: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  partialBlockTimeoutSeconds: number;
}

export interface SocksProxyConfig {
  host: string;
  port: number;
  /** `user:pass@` prefix; `null` for a bare `@` (no auth, no isolation); undefined = isolate by auth. */
  auth?: { username: string; password: string } | null;
}

export interface ProxyConfig {
  hostMode: "public" | "onion";
  requiredHostMode: boolean;
  ownServerDomains: string[];
  socksProxy?: SocksProxyConfig;
  socksMode: "onion" | "always";
  clientConcurrency: number;
}

/** [NAMES]: the names role's settings (server/names/config.ts), and whether it is on. */
export interface NamesSection extends Omit<NamesConfig, "resolverEndpoint"> {
  enable: boolean;
  /** Validated and without a trailing "/"; set whenever enable is true. */
  resolverEndpoint?: string;
}

export interface PrometheusConfig {
  /** `http = "host:port"`: serve GET /metrics there. */
  http?: { host: string; port: number };
}

export interface WebConfig {
  staticPath?: string;
  http?: number;
  https?: { port: number; cert: string; key: string };
}

export interface SmpConfig {
  file: string;
  information?: InformationConfig;
  storeLog: StoreLogConfig;
  auth: AuthConfig;
  transport: TransportConfig;
  proxy: ProxyConfig;
  names: NamesSection;
  /** Present when `[INACTIVE_CLIENTS] disconnect` is on. */
  inactiveClients?: { ttlSeconds: number; checkIntervalSeconds: number };
  web: WebConfig;
  prometheus: PrometheusConfig;
  /** `[NODES]` (ours): server processes on this machine (nodes.ts). */
  nodes: NodesConfig;
  /** Settings that are valid but ignored or not yet effective; printed at start. */
  warnings: string[];
}

export const DEFAULTS = {
  expireMessagesDays: 21, // Server/Env/STM.hs:defMsgExpirationDays
  expireNtfsHours: 24, // defNtfExpirationHours
  dailyBlockQueueQuota: 20,
  clientConcurrency: 32, // defaultProxyClientConcurrency
  ...NAMES_DEFAULTS,
  inactiveTtl: 21600, // defaultInactiveClientExpiration
  inactiveCheckInterval: 3600,
  controlPort: 5224, // Server/Main/Init.hs:defaultControlPort
  maxConnections: 10000,
  /**
   * A mobile carrier's NAT address is shared by hundreds to thousands of subscribers, and a Tor
   * exit carries every Tor user of this server who picked it; each client holds about one
   * connection per server. 1000 keeps one address to a tenth of the default max_connections.
   */
  maxConnectionsPerAddress: 1000,
  /** A 16 KB block needs ~7 s at 20 kbit/s (a poor 2G link): 60 s leaves a wide margin. */
  partialBlockTimeout: 60,
  bindHost: "::",
} as const;

const MAX = Number.MAX_SAFE_INTEGER;
/** Timer intervals become setInterval delays in ms, which must stay below 2^31. */
const MAX_INTERVAL_SECONDS = 2147483;
const SECTIONS = ["INFORMATION", "STORE_LOG", "AUTH", "TRANSPORT", "PROXY", "NAMES", "INACTIVE_CLIENTS", "WEB", "PROMETHEUS", "NODES"] as const;

export function loadConfig(file: string): SmpConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, undefined, `cannot read the configuration file: ${(e as Error).message}`);
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file: string): SmpConfig {
  let doc: Table;
  try {
    doc = parseToml(text, { unsafeKeyBehaviour: "throw" }) as Table;
  } catch (e) {
    if (e instanceof TomlError) throw new ConfigError(file, undefined, `TOML syntax error at line ${e.line}, column ${e.column}: ${e.message.split("\n")[0]}`);
    throw new ConfigError(file, undefined, `TOML syntax error: ${(e as Error).message}`);
  }
  const sections = new Map<string, SectionReader>();
  for (const [name, value] of Object.entries(doc)) {
    if (!(SECTIONS as readonly string[]).includes(name)) {
      if (!isTable(value)) throw new ConfigError(file, name, `key outside any section (put it under one of [${SECTIONS.join("], [")}])`);
      throw new ConfigError(file, `[${name}]`, `unknown section (known sections: ${SECTIONS.join(", ")})`);
    }
    if (!isTable(value)) throw new ConfigError(file, `[${name}]`, `expected a section (table), got ${describe(value)}`);
    for (const [key, v] of Object.entries(value)) {
      if (isTable(v)) throw new ConfigError(file, `[${name}] ${key}`, "unknown key (nested tables are not allowed)");
    }
    sections.set(name, new SectionReader(file, name, value));
  }
  const section = (name: (typeof SECTIONS)[number]) => sections.get(name) ?? new SectionReader(file, name, {});
  const warnings: string[] = [];
  const storeLog = readStoreLog(section("STORE_LOG"));
  const cfg: SmpConfig = {
    file,
    information: readInformation(section("INFORMATION"), warnings),
    storeLog,
    auth: readAuth(section("AUTH")),
    transport: readTransport(section("TRANSPORT")),
    proxy: readProxy(section("PROXY")),
    names: readNames(section("NAMES")),
    inactiveClients: readInactiveClients(section("INACTIVE_CLIENTS")),
    web: readWeb(section("WEB"), warnings),
    prometheus: readPrometheus(section("PROMETHEUS")),
    nodes: readNodes(section("NODES"), storeLog.postgres !== undefined),
    warnings,
  };
  for (const s of sections.values()) s.finish();
  const a = cfg.auth;
  if (cfg.transport.controlPort !== undefined && a.controlPortAdminPassword === undefined && a.controlPortUserPassword === undefined)
    warnings.push("[TRANSPORT] control_port is set without [AUTH] control_port_admin_password or control_port_user_password: every command but help, stats-rts and quit will answer AUTH");
  return cfg;
}

// ---------------------------------------------------------------- [INFORMATION]

function country(s: SectionReader, key: string): string | undefined {
  const v = s.optString(key);
  if (v === undefined) return undefined;
  if (!/^[A-Za-z]{2}$/.test(v)) s.fail(key, `use an ISO 3166 2-letter country code, got ${JSON.stringify(v)}`);
  return v.toUpperCase();
}

function readInformation(s: SectionReader, warnings: string[]): InformationConfig | undefined {
  const str = (k: string) => s.optString(k);
  const entity = (nameKey: string, countryKey: string): Entity | undefined => {
    const name = str(nameKey);
    const c = country(s, countryKey);
    if (name === undefined && c !== undefined) warnings.push(`[INFORMATION] ${countryKey} is ignored without ${nameKey}`);
    return name === undefined ? undefined : c === undefined ? { name } : { name, country: c };
  };
  const contacts = (prefix: string): Contacts | undefined => {
    const simplex = str(`${prefix}_simplex`);
    const email = str(`${prefix}_email`);
    const keyUri = str(`${prefix}_pgp`);
    const fingerprint = str(`${prefix}_pgp_fingerprint`);
    const pgp = keyUri !== undefined && fingerprint !== undefined ? { keyUri, fingerprint } : undefined;
    if (simplex === undefined && email === undefined && pgp === undefined) return undefined;
    return { ...(simplex && { simplex }), ...(email && { email }), ...(pgp && { pgp }) };
  };
  const sourceCode = str("source_code");
  const conditions = str("usage_conditions");
  const amendments = str("condition_amendments");
  const info: Omit<InformationConfig, "sourceCode"> = {
    ...(conditions !== undefined && { usageConditions: amendments === undefined ? { conditions } : { conditions, amendments } }),
    serverCountry: country(s, "server_country"),
    operator: entity("operator", "operator_country"),
    website: str("website"),
    adminContacts: contacts("admin"),
    complaintsContacts: contacts("complaints"),
    hosting: entity("hosting", "hosting_country"),
    hostingType: s.optOneOf("hosting_type", HOSTING_TYPES),
  };
  if (sourceCode === undefined) {
    // Server/Main.hs:serverPublicInfo publishes nothing without source_code (AGPLv3 requires it).
    const present = Object.values(info).some((v) => v !== undefined);
    if (present) warnings.push("[INFORMATION] keys are ignored because source_code is not set");
    return undefined;
  }
  return Object.fromEntries(Object.entries({ sourceCode, ...info }).filter(([, v]) => v !== undefined)) as unknown as InformationConfig;
}

// ---------------------------------------------------------------- [STORE_LOG]

function readStoreLog(s: SectionReader): StoreLogConfig {
  for (const key of ["store_queues", "store_messages"]) {
    const v = s.raw(key);
    if (v === undefined || v === "database") continue;
    if (v === "memory" || v === "journal")
      s.fail(key, `"${v}" is not supported: this server always stores queues and messages in its SQLite database; set it to "database" or remove the key`);
    s.fail(key, `expected "database", got ${describe(v)}`);
  }
  const postgres = readPostgres(s);
  const enable = s.bool("enable", false);
  return {
    ...(postgres !== undefined && { postgres }),
    enable,
    // Server/Main.hs:restoreMessagesFile: when absent it follows `enable`.
    restoreMessages: s.bool("restore_messages", enable),
    expireMessagesDays: s.int("expire_messages_days", DEFAULTS.expireMessagesDays, 1, 100000),
    expireMessagesOnStart: s.bool("expire_messages_on_start", true),
    // The code default is on even though `init` writes off (Server/Main.hs:serverConfig).
    expireMessagesOnSend: s.bool("expire_messages_on_send", true),
    expireNtfsHours: s.int("expire_ntfs_hours", DEFAULTS.expireNtfsHours, 1, 1000000),
    logStats: s.bool("log_stats", false),
    prometheusIntervalSeconds: s.optInt("prometheus_interval", 1, MAX_INTERVAL_SECONDS),
  };
}

/**
 * The reference's `database` store is PostgreSQL; here `store_queues = "database"` always meant
 * the SQLite file, so the two are told apart by `db_connection`: present ⇒ PostgreSQL.
 */
export function readPostgres(s: SectionReader): PostgresConfig | undefined {
  s.rejectIfPresent("db_store_log", "not supported: the PostgreSQL store keeps no store log (back up with pg_dump)");
  const connection = s.optString("db_connection");
  if (connection === undefined) {
    for (const key of ["db_schema", "db_pool_size", "db_deleted_ttl"])
      s.rejectIfPresent(key, "needs db_connection (the PostgreSQL URI); without it the store is the SQLite database in the data directory");
    return undefined;
  }
  if (!/^postgres(ql)?:\/\//.test(connection))
    s.fail("db_connection", 'expected a PostgreSQL URI "postgresql://user[:password]@host[:port]/database"');
  const schema = s.optString("db_schema") ?? DEFAULT_DB_SCHEMA;
  if (!/^[A-Za-z_][A-Za-z0-9_$]{0,62}$/.test(schema)) s.fail("db_schema", "expected an SQL identifier (letters, digits, _; at most 63)");
  return {
    connection,
    schema,
    poolSize: s.int("db_pool_size", 10, 2, 1000),
    deletedTtlSeconds: s.int("db_deleted_ttl", 86400 * 21, 0, Number.MAX_SAFE_INTEGER),
  };
}

// ---------------------------------------------------------------- [AUTH]

/** Protocol.hs:basicAuth — printable, no whitespace, '@', ':' or '/' (they delimit the server address). */
export function basicAuthProblem(p: string): string | undefined {
  if (p.length === 0) return "must not be empty";
  for (const ch of p) {
    const c = ch.codePointAt(0)!;
    if (c < 0x21 || c > 0x7e) return "only printable ASCII characters without spaces are allowed";
    if (ch === "@" || ch === ":" || ch === "/") return `the character '${ch}' is not allowed`;
  }
  return undefined;
}

function password(s: SectionReader, key: string): string | undefined {
  const v = s.optString(key);
  if (v === undefined) return undefined;
  const problem = basicAuthProblem(v);
  return problem === undefined ? v : s.fail(key, problem);
}

function readAuth(s: SectionReader): AuthConfig {
  return {
    newQueues: s.bool("new_queues", true),
    createPassword: password(s, "create_password"),
    controlPortAdminPassword: password(s, "control_port_admin_password"),
    controlPortUserPassword: password(s, "control_port_user_password"),
    dailyBlockQueueQuota: s.int("daily_block_queue_quota", DEFAULTS.dailyBlockQueueQuota, -MAX, MAX),
  };
}

// ---------------------------------------------------------------- [TRANSPORT]

function checkPort(s: SectionReader, key: string, p: unknown): number {
  if (typeof p !== "number" || !Number.isInteger(p)) return s.fail(key, `expected a port number, got ${describe(p)}`);
  if (p < 1 || p > 65535) return s.fail(key, rangeReason(p, 1, 65535));
  return p;
}

/** An array of ports, or the reference's comma-separated string ("5223,443"). */
function portList(s: SectionReader, key: string): number[] | undefined {
  const v = s.raw(key);
  if (v === undefined) return undefined;
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  else if (typeof v === "string") items = v.split(",").map((t) => (/^\s*\d+\s*$/.test(t) ? Number(t) : t.trim()));
  else if (typeof v === "number") items = [v];
  else return s.fail(key, `expected a list of ports like [5223, 443] or "5223,443", got ${describe(v)}`);
  if (items.length === 0) return s.fail(key, "at least one port is required");
  const ports = items.map((p) => checkPort(s, key, p));
  const dup = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dup !== undefined) s.fail(key, `port ${dup} is listed twice`);
  return ports;
}

function readTransport(s: SectionReader): TransportConfig {
  const host = s.optString("host");
  if (host !== undefined && host.split(",").some((h) => h.trim() === "" || /[\s#;/]/.test(h)))
    s.fail("host", `expected comma-separated host names, got ${JSON.stringify(host)}`);
  const ports = portList(s, "port") ?? s.fail("port", "required (listener ports, e.g. [5223, 443])");
  const ws = s.raw("websockets");
  if (ws !== undefined && ws !== false && ws !== "off")
    s.fail("websockets", `only false ("off") is supported: WebSocket listeners are not implemented, got ${describe(ws)}`);
  const cp = s.raw("control_port");
  const bindHost = s.optString("bind_host") ?? DEFAULTS.bindHost;
  return {
    ...(host !== undefined && { host }),
    ports,
    portText: ports.join(","),
    bindHost,
    logTlsErrors: s.bool("log_tls_errors", false),
    ...(cp !== undefined && { controlPort: checkPort(s, "control_port", cp) }),
    maxConnections: s.int("max_connections", DEFAULTS.maxConnections, 1, 10_000_000),
    maxConnectionsPerAddress: s.int("max_connections_per_address", DEFAULTS.maxConnectionsPerAddress, 0, 10_000_000),
    partialBlockTimeoutSeconds: s.int("partial_block_timeout", DEFAULTS.partialBlockTimeout, 1, MAX_INTERVAL_SECONDS),
  };
}

// ---------------------------------------------------------------- [PROXY]

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Transport/Client.hs:SocksProxyWithAuth — `[user:pass@|@][ip][:port]`, IP host only, defaults 127.0.0.1:9050. */
export function parseSocksProxy(v: string): SocksProxyConfig | string {
  let rest = v;
  let auth: SocksProxyConfig["auth"];
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const a = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (a === "") auth = null;
    else {
      const colon = a.indexOf(":");
      if (colon < 0) return "authentication must be user:password@";
      auth = { username: a.slice(0, colon), password: a.slice(colon + 1) };
    }
  }
  let host = "127.0.0.1";
  let portText: string | undefined;
  const v6 = /^\[([0-9A-Fa-f:.]+)\](?::(.*))?$/.exec(rest);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const colon = rest.lastIndexOf(":");
    const h = colon >= 0 ? rest.slice(0, colon) : rest;
    portText = colon >= 0 ? rest.slice(colon + 1) : undefined;
    if (h !== "") {
      if (!IPV4.test(h)) return `SOCKS5 host should be an IPv4 or [IPv6] address, got ${JSON.stringify(h)}`;
      host = h;
    }
  }
  const port = portText === undefined ? 9050 : Number(portText);
  if (!/^\d+$/.test(portText ?? "9050") || port < 1 || port > 65535) return `bad port ${JSON.stringify(portText)}`;
  return auth === undefined ? { host, port } : { host, port, auth };
}

function readProxy(s: SectionReader): ProxyConfig {
  const own = s.raw("own_server_domains");
  let ownServerDomains: string[] = [];
  if (typeof own === "string") ownServerDomains = own.split(/[\s,]+/).filter((d) => d !== "");
  else if (Array.isArray(own) && own.every((d) => typeof d === "string" && d.trim() !== "")) ownServerDomains = own as string[];
  else if (own !== undefined) s.fail("own_server_domains", `expected a list of domain suffixes, got ${describe(own)}`);
  const socks = s.optString("socks_proxy");
  let socksProxy: SocksProxyConfig | undefined;
  if (socks !== undefined) {
    const parsed = parseSocksProxy(socks);
    socksProxy = typeof parsed === "string" ? s.fail("socks_proxy", parsed) : parsed;
  }
  return {
    hostMode: s.oneOf("host_mode", ["public", "onion"] as const, "public"),
    requiredHostMode: s.bool("required_host_mode", false),
    ownServerDomains,
    ...(socksProxy && { socksProxy }),
    socksMode: s.oneOf("socks_mode", ["onion", "always"] as const, "onion"),
    clientConcurrency: s.int("client_concurrency", DEFAULTS.clientConcurrency, 1, 100000),
  };
}

// ---------------------------------------------------------------- [NAMES]

function readNames(s: SectionReader): NamesSection {
  const enable = s.bool("enable", false);
  const authText = s.optString("resolver_auth");
  let resolverAuth: ResolverAuth | undefined;
  if (authText !== undefined) {
    const a = parseResolverAuth(authText);
    resolverAuth = typeof a === "string" ? s.fail("resolver_auth", a) : a;
  }
  const endpointText = s.optString("resolver_endpoint");
  let resolverEndpoint: string | undefined;
  if (endpointText !== undefined) {
    const r = validateResolverUrl(endpointText, resolverAuth !== undefined);
    resolverEndpoint = typeof r === "string" ? r : s.fail("resolver_endpoint", r.error);
  } else if (enable) s.fail("resolver_endpoint", "required when enable = true");
  return {
    enable,
    ...(resolverEndpoint !== undefined && { resolverEndpoint }),
    ...(resolverAuth !== undefined && { resolverAuth }),
    resolverTimeoutMs: s.int("resolver_timeout_ms", DEFAULTS.resolverTimeoutMs, 100, 60000),
    resolverMaxResponseBytes: s.int("resolver_max_response_bytes", DEFAULTS.resolverMaxResponseBytes, 1024, 16000),
    resolverConcurrency: s.int("resolver_concurrency", DEFAULTS.resolverConcurrency, 1, 1000000),
  };
}

// ---------------------------------------------------------------- [INACTIVE_CLIENTS]

function readInactiveClients(s: SectionReader): SmpConfig["inactiveClients"] {
  const disconnect = s.bool("disconnect", false);
  if (!disconnect) {
    s.optInt("ttl", 1, MAX);
    s.optInt("check_interval", 1, MAX_INTERVAL_SECONDS);
    return undefined;
  }
  // Server/Main.hs reads both with readStrictIni: required once disconnect is on.
  return {
    ttlSeconds: s.requiredInt("ttl", 1, MAX, "when disconnect = true (seconds without activity, e.g. 21600)"),
    checkIntervalSeconds: s.requiredInt("check_interval", 1, MAX_INTERVAL_SECONDS, "when disconnect = true (seconds between checks, e.g. 3600)"),
  };
}

// ---------------------------------------------------------------- [PROMETHEUS]

/** `host:port` or `[v6]:port`. */
export function parseHostPort(v: string): { host: string; port: number } | string {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(v);
  if (m === null) return `expected "host:port" (e.g. "127.0.0.1:9464"), got ${JSON.stringify(v)}`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return rangeReason(port, 1, 65535);
  return { host: m[1] ?? m[2]!, port };
}

function readPrometheus(s: SectionReader): PrometheusConfig {
  const v = s.optString("http");
  if (v === undefined) return {};
  const r = parseHostPort(v);
  return typeof r === "string" ? s.fail("http", r) : { http: r };
}

// ---------------------------------------------------------------- [WEB]

function readWeb(s: SectionReader, warnings: string[]): WebConfig {
  const staticPath = s.optString("static_path");
  const httpRaw = s.raw("http");
  const httpsRaw = s.raw("https");
  const cert = s.optString("cert");
  const key = s.optString("key");
  const web: WebConfig = {};
  if (staticPath !== undefined) web.staticPath = staticPath;
  if (httpRaw !== undefined) web.http = checkPort(s, "http", httpRaw);
  if (httpsRaw !== undefined) {
    const port = checkPort(s, "https", httpsRaw);
    if (cert === undefined || key === undefined) s.fail("https", "requires both cert and key");
    web.https = { port, cert, key };
  }
  if (web.https === undefined && (cert !== undefined || key !== undefined)) warnings.push("[WEB] cert and key are used only with https; they are ignored");
  return web;
}
