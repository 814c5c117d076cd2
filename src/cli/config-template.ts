/**
 * The commented smp-server.toml written by `init`, following Server/Main/Init.hs:iniFileContent
 * section by section (same generated values: store log on, expire_messages_on_send off, inactive
 * clients disconnected after 21600 s checked every 3600 s), in TOML syntax.
 */
import { join } from "node:path";
import { DEFAULTS, type HostingType } from "./config.ts";
import { WEB_FILES } from "./paths.ts";
import { tomlString } from "./toml-string.ts";

/** Settings `init` takes from its options and writes as given ([PROXY] and [INFORMATION]). */
export interface ServerInformation {
  socksProxy?: string;
  ownDomains?: string[];
  sourceCode?: string;
  serverCountry?: string;
  operator?: string;
  operatorCountry?: string;
  website?: string;
  hosting?: string;
  hostingCountry?: string;
  hostingType?: HostingType;
}

export interface InitValues extends ServerInformation {
  configDir: string;
  dataDir: string;
  enableStoreLog: boolean;
  logStats: boolean;
  /** `[TRANSPORT] host`; undefined leaves the key commented (address prints `<hostnames>`). */
  host?: string;
  ports: number[];
  password?: string;
  controlPort?: number;
  controlPortPasswords?: { admin: string; user: string };
  webStaticPath?: string;
  /** `[WEB] https` (with cert/key in the config directory); undefined leaves them commented. */
  webHttpsPort?: number;
}

/** `key = value`, commented out when the value is absent (the reference's optDisabled). */
const opt = (key: string, value: string | undefined, placeholder: string): string =>
  value === undefined ? `# ${key} = ${placeholder}` : `${key} = ${value}`;

export function renderConfig(v: InitValues): string {
  const country = (k: string, c: string | undefined) => opt(k, c && tomlString(c), '"ISO-3166 2-letter code"');
  const entity = (k: string, name: string | undefined) => opt(k, name && tomlString(name), '"entity (organization or person name)"');
  return `# smp-server configuration (TOML). Every key is described in docs/configuration.md.
# On/off settings are true/false ("on"/"off" strings are accepted too).

[INFORMATION]
# AGPLv3 license requires that you make any source code modifications
# available to the end users of the server.
# LICENSE: https://github.com/simplex-chat/simplexmq/blob/stable/LICENSE
# Include correct source code URI in case the server source code is modified in any way.
# If any other information fields are present, source code property also MUST be present.

${opt("source_code", v.sourceCode && tomlString(v.sourceCode), '"URI"')}

# Declaring all below information is optional, any of these fields can be omitted.

# Server usage conditions and amendments.
# It is recommended to use standard conditions with any amendments in a separate document.
# usage_conditions = "https://github.com/simplex-chat/simplex-chat/blob/stable/PRIVACY.md"
# condition_amendments = "link"

# Server location and operator.
${country("server_country", v.serverCountry)}
${entity("operator", v.operator)}
${country("operator_country", v.operatorCountry)}
${opt("website", v.website && tomlString(v.website), '""')}

# Administrative contacts.
# admin_simplex = "SimpleX address"
# admin_email = ""
# admin_pgp = ""
# admin_pgp_fingerprint = ""

# Contacts for complaints and feedback.
# complaints_simplex = "SimpleX address"
# complaints_email = ""
# complaints_pgp = ""
# complaints_pgp_fingerprint = ""

# Hosting provider.
${entity("hosting", v.hosting)}
${country("hosting_country", v.hostingCountry)}

# Hosting type can be "virtual", "dedicated", "colocation", "owned"
${opt("hosting_type", v.hostingType && tomlString(v.hostingType), '"virtual"')}

[STORE_LOG]
# true: queues and messages are kept in the SQLite database in the data directory
# (${v.dataDir}) and survive restarts; false: nothing is persisted.
enable = ${v.enableStoreLog}

# Storage mode. Only "database" is supported: the embedded SQLite database, or
# PostgreSQL when db_connection is set (the reference's "memory" and "journal"
# modes are not). PostgreSQL: the schema must exist (CREATE SCHEMA smp_server).
# store_queues = "database"
# store_messages = "database"
# db_connection = "postgresql://smp@localhost/smp_server_store"
# db_schema = "smp_server"
# db_pool_size = 10

# Undelivered messages are kept across restarts (follows \`enable\` when absent).
restore_messages = ${v.enableStoreLog}

# Messages and notifications expiration periods.
expire_messages_days = ${DEFAULTS.expireMessagesDays}
expire_messages_on_start = true
expire_messages_on_send = false
expire_ntfs_hours = ${DEFAULTS.expireNtfsHours}

# Log daily server statistics to CSV file smp-server-stats.daily.log in the data directory (at 00:00 UTC).
log_stats = ${v.logStats}

# Write real-time Prometheus metrics to smp-server-metrics.txt in the data directory every N seconds.
# prometheus_interval = 60

[AUTH]
# Set new_queues option to false to completely prohibit creating new messaging queues.
# This can be useful when you want to decommission the server, but not all connections are switched yet.
new_queues = true

# Use create_password option to enable basic auth to create new messaging queues.
# The password should be used as part of server address in client configuration:
# smp://fingerprint:password@host1,host2
# The password will not be shared with the connecting contacts, you must share it only
# with the users who you want to allow creating messaging queues on your server.
${opt("create_password", v.password && tomlString(v.password), "\"password to create new queues and forward messages (any printable ASCII characters without whitespace, '@', ':' and '/')\"")}

# Control port passwords: \`auth <password>\` gives the admin or the user role (smp-server control …).
${opt("control_port_admin_password", v.controlPortPasswords && tomlString(v.controlPortPasswords.admin), '""')}
${opt("control_port_user_password", v.controlPortPasswords && tomlString(v.controlPortPasswords.user), '""')}

# The limit for queues that can be blocked via control port per day, resets at 0:00 UTC.
# Set to 0 to disable limit, to -1 to prohibit blocking. Default is ${DEFAULTS.dailyBlockQueueQuota}.
# daily_block_queue_quota = ${DEFAULTS.dailyBlockQueueQuota}

[TRANSPORT]
# Host is only used to print server address on start (comma-separated host names).
${opt("host", v.host && tomlString(v.host), '"<hostnames>"')}
# TLS listener ports. Ports below 1024 (e.g. 443) need root or CAP_NET_BIND_SERVICE.
port = [${v.ports.join(", ")}]
# Address to listen on; "::" accepts IPv6 and IPv4.
# bind_host = "${DEFAULTS.bindHost}"
log_tls_errors = false
# Upper bound on simultaneous client connections, counted from TCP accept (TLS setup included);
# lowered at start to what the file descriptor limit (ulimit -n) allows, with a warning.
# max_connections = ${DEFAULTS.maxConnections}
# Connections from one IPv4 address or IPv6 /64; 0 = no bound. Generous: users behind a carrier's
# NAT or a Tor exit share one address. Loopback (a local Tor onion service) is exempt.
# max_connections_per_address = ${DEFAULTS.maxConnectionsPerAddress}
# Seconds a client may take to finish a block it has begun (idle time between blocks is not limited).
# partial_block_timeout = ${DEFAULTS.partialBlockTimeout}

# WebSocket listeners are not supported; only false is accepted.
websockets = false
${opt("control_port", v.controlPort === undefined ? undefined : String(v.controlPort), String(DEFAULTS.controlPort))}

[PROXY]
# Network configuration for SMP proxy client.
# \`host_mode\` can be "public" (default) or "onion".
# It defines preferred hostname for destination servers with multiple hostnames.
# host_mode = "public"
# required_host_mode = false

# The domain suffixes of the relays you operate, to count as separate proxy statistics.
${opt("own_server_domains", v.ownDomains && `[${v.ownDomains.map(tomlString).join(", ")}]`, "[]")}

# SOCKS proxy for forwarding messages to destination servers.
${opt("socks_proxy", v.socksProxy && tomlString(v.socksProxy), '"127.0.0.1:9050"')}

# \`socks_mode\` can be "onion" for SOCKS proxy to be used for .onion destination hosts only (default)
# or "always" to be used for all destination hosts (can be used if it is an .onion server).
# socks_mode = "onion"

# Limit number of proxy commands a client can have in progress in parallel.
# client_concurrency = ${DEFAULTS.clientConcurrency}

[NAMES]
# Public-namespace resolution via a REST resolver.
enable = false
# Same-host:
# resolver_endpoint = "http://127.0.0.1:8000"
# Resolver behind TLS reverse proxy:
# resolver_endpoint = "https://names.example.com:443"
# resolver_auth = "basic <username>:<password>"
# resolver_timeout_ms = ${DEFAULTS.resolverTimeoutMs}
# resolver_max_response_bytes = ${DEFAULTS.resolverMaxResponseBytes}
# Max concurrent name resolutions (server-wide; up to 10x more wait, then "resolver busy").
# resolver_concurrency = ${DEFAULTS.resolverConcurrency}

[INACTIVE_CLIENTS]
# TTL and interval to check inactive clients, seconds
disconnect = true
ttl = ${DEFAULTS.inactiveTtl}
check_interval = ${DEFAULTS.inactiveCheckInterval}

[WEB]
# The static mini-site, generated into static_path at every start: the server information page
# (from [INFORMATION] and the settings above), the pages for short links the apps build with this
# server's host (/a, /c, /g, /i, /r, /contact, /invitation) and app links (/.well-known/).
# Other web servers can serve that directory too.
static_path = ${tomlString(v.webStaticPath ?? join(v.dataDir, "www"))}

# Plain HTTP on this port (onion sites can use any port and register it in the hidden service config).
# Ports below 1024 need root or CAP_NET_BIND_SERVICE.
# http = 8000

# HTTPS with the certificate and key below. If \`https\` is also an SMP port ([TRANSPORT] port),
# that port is shared: browsers (they send SNI) get the web site, SMP clients (no SNI) get SMP.
# Use a certificate browsers accept (RSA or ECDSA), e.g. from Let's Encrypt:
#   certbot certonly --standalone -d <your domain>
# A missing or unreadable certificate only disables HTTPS, with a warning at start.
${opt("https", v.webHttpsPort === undefined ? undefined : String(v.webHttpsPort), "443")}
${opt("cert", v.webHttpsPort === undefined ? undefined : tomlString(join(v.configDir, WEB_FILES.cert)), tomlString(join(v.configDir, WEB_FILES.cert)))}
${opt("key", v.webHttpsPort === undefined ? undefined : tomlString(join(v.configDir, WEB_FILES.key)), tomlString(join(v.configDir, WEB_FILES.key)))}

[PROMETHEUS]
# Serve the Prometheus metrics (the text of smp-server-metrics.txt plus runtime figures) at GET /metrics.
# It has no authentication: use 127.0.0.1 or a private address. Off unless set.
# http = "127.0.0.1:9464"

[NODES]
# Server processes ("nodes") serving this address on this machine, all on the same ports
# (README: Several nodes). More than 1 needs the PostgreSQL store ([STORE_LOG] db_connection).
# "auto" starts one per core. Node N uses control_port and [PROMETHEUS] http port + N - 1.
# count = 1
# Shown by the control port and metrics as "<name>-<node>" (default: the host name).
# name = "relay1"
`;
}
