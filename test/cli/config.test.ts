import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig, parseSocksProxy, type SmpConfig } from "../../src/cli/config.ts";
import { renderConfig } from "../../src/cli/config-template.ts";
import { toServerOptions } from "../../src/cli/server-options.ts";

const FILE = "/etc/opt/simplex/smp-server.toml";
const parse = (text: string): SmpConfig => parseConfig(text, FILE);
const minimal = (extra = ""): string => `[TRANSPORT]\nport = [5223]\n${extra}`;

/** The ConfigError thrown for `text`, checked to name the file. */
function configError(text: string): ConfigError {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).message.startsWith(FILE + ": ")).toBe(true);
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  test("absent keys take the reference's code defaults (Server/Main.hs:serverConfig)", () => {
    const c = parse(minimal());
    expect(c.storeLog).toEqual({
      enable: false,
      restoreMessages: false, // follows enable (restoreMessagesFile)
      expireMessagesDays: 21,
      expireMessagesOnStart: true,
      expireMessagesOnSend: true, // code default on, although init writes off
      expireNtfsHours: 24,
      logStats: false,
      prometheusIntervalSeconds: undefined,
    });
    expect(c.auth).toEqual({ newQueues: true, dailyBlockQueueQuota: 20 } as SmpConfig["auth"]);
    expect(c.proxy).toEqual({ hostMode: "public", requiredHostMode: false, ownServerDomains: [], socksMode: "onion", clientConcurrency: 32 });
    expect(c.names).toEqual({ enable: false, resolverTimeoutMs: 3000, resolverMaxResponseBytes: 16000, resolverConcurrency: 1000 });
    expect(c.inactiveClients).toBeUndefined();
    expect(c.information).toBeUndefined();
    expect(c.transport).toMatchObject({ ports: [5223], bindHost: "::", logTlsErrors: false });
    expect(c.warnings).toEqual([]);
  });

  test("restore_messages follows enable when absent", () => {
    expect(parse(minimal() + "[STORE_LOG]\nenable = true\n").storeLog.restoreMessages).toBe(true);
    expect(parse(minimal() + "[STORE_LOG]\nenable = true\nrestore_messages = false\n").storeLog.restoreMessages).toBe(false);
  });

  test("the file written by init parses to the reference's generated values (Server/Main/Init.hs:iniFileContent)", () => {
    const text = renderConfig({
      configDir: "/c",
      dataDir: "/d",
      enableStoreLog: true,
      logStats: false,
      host: "smp.example.com",
      ports: [5223, 443],
      password: "pw-123_x=",
      controlPort: 5224,
      controlPortPasswords: { admin: "a", user: "u" },
      sourceCode: "https://example.com/src",
      operator: "Op",
      operatorCountry: "de",
      hostingType: "dedicated",
      ownDomains: ["example.com", "example.net"],
    });
    const c = parse(text);
    expect(c.storeLog).toMatchObject({ enable: true, restoreMessages: true, expireMessagesOnStart: true, expireMessagesOnSend: false, expireMessagesDays: 21 });
    expect(c.inactiveClients).toEqual({ ttlSeconds: 21600, checkIntervalSeconds: 3600 });
    expect(c.transport).toMatchObject({ host: "smp.example.com", ports: [5223, 443], portText: "5223,443", controlPort: 5224 });
    expect(c.auth).toMatchObject({ createPassword: "pw-123_x=", controlPortAdminPassword: "a", controlPortUserPassword: "u", newQueues: true });
    expect(c.information).toEqual({ sourceCode: "https://example.com/src", operator: { name: "Op", country: "DE" }, hostingType: "dedicated" });
    expect(c.proxy.ownServerDomains).toEqual(["example.com", "example.net"]);
    expect(c.names.enable).toBe(false);
    // static_path = <log>/www as Init.hs writes it; https/cert/key commented unless init chose a port.
    expect(c.web).toEqual({ staticPath: "/d/www" });
    const withHttps = parse(renderConfig({ configDir: "/c", dataDir: "/d", enableStoreLog: true, logStats: false, ports: [5223, 443], webHttpsPort: 443 }));
    expect(withHttps.web).toEqual({ staticPath: "/d/www", https: { port: 443, cert: "/c/web.crt", key: "/c/web.key" } });
    expect(withHttps.warnings).toEqual([]);
    expect(parse(minimal() + '[WEB]\ncert = "/c/web.crt"\n').warnings).toContain("[WEB] cert and key are used only with https; they are ignored");
  });

  test("init without password/host leaves those keys commented out", () => {
    const c = parse(renderConfig({ configDir: "/c", dataDir: "/d", enableStoreLog: false, logStats: false, ports: [5223] }));
    expect(c.auth.createPassword).toBeUndefined();
    expect(c.transport.host).toBeUndefined();
    expect(c.storeLog.enable).toBe(false);
  });
});

describe("value forms", () => {
  test("port: array, single integer, or the reference's comma string", () => {
    expect(parse('[TRANSPORT]\nport = "5223,443"\n').transport.ports).toEqual([5223, 443]);
    expect(parse("[TRANSPORT]\nport = 443\n").transport.ports).toEqual([443]);
    expect(parse("[TRANSPORT]\nport = [443, 5223]\n").transport.ports).toEqual([443, 5223]);
  });

  test('on/off accepted as booleans or "on"/"off"', () => {
    const c = parse(minimal('log_tls_errors = "on"\n[STORE_LOG]\nenable = "on"\nexpire_messages_on_send = "off"\n'));
    expect(c.transport.logTlsErrors).toBe(true);
    expect(c.storeLog.enable).toBe(true);
    expect(c.storeLog.expireMessagesOnSend).toBe(false);
  });

  test("[INFORMATION] countries are upper-cased; keys without source_code are ignored with a warning", () => {
    expect(parse(minimal('[INFORMATION]\nsource_code = "https://x"\nserver_country = "fr"\n')).information?.serverCountry).toBe("FR");
    const c = parse(minimal('[INFORMATION]\noperator = "Op"\n'));
    expect(c.information).toBeUndefined();
    expect(c.warnings.join("\n")).toContain("source_code is not set");
  });

  test("[NAMES] endpoint is validated and its trailing / stripped (Server/Main.hs:validateUrl)", () => {
    const c = parse(minimal('[NAMES]\nenable = true\nresolver_endpoint = "https://gw.example.com/snrc/"\nresolver_auth = "Bearer tok"\n'));
    expect(c.names.resolverEndpoint).toBe("https://gw.example.com/snrc");
    expect(c.names.resolverAuth).toEqual({ scheme: "bearer", token: "tok" });
    const local = parse(minimal('[NAMES]\nenable = true\nresolver_endpoint = "http://127.0.0.1:8000"\nresolver_auth = "basic u:p:q"\n'));
    expect(local.names.resolverAuth).toEqual({ scheme: "basic", user: "u", password: "p:q" });
  });

  test("socks_proxy: [user:pass@|@][ip][:port] with defaults 127.0.0.1:9050", () => {
    expect(parseSocksProxy("")).toEqual({ host: "127.0.0.1", port: 9050 });
    expect(parseSocksProxy(":9150")).toEqual({ host: "127.0.0.1", port: 9150 });
    expect(parseSocksProxy("u:p@10.0.0.1:1080")).toEqual({ host: "10.0.0.1", port: 1080, auth: { username: "u", password: "p" } });
    expect(parseSocksProxy("@[::1]:9050")).toEqual({ host: "::1", port: 9050, auth: null });
    expect(typeof parseSocksProxy("localhost:9050")).toBe("string");
  });
});

describe("PostgreSQL ([STORE_LOG] db_*: Server/CLI.hs:iniDBOptions)", () => {
  test("db_connection selects PostgreSQL, with the reference's defaults for the other keys", () => {
    const c = parse(minimal('[STORE_LOG]\nstore_queues = "database"\nstore_messages = "database"\ndb_connection = "postgresql://smp@/smp_server_store"\n'));
    expect(c.storeLog.postgres).toEqual({ connection: "postgresql://smp@/smp_server_store", schema: "smp_server", poolSize: 10, deletedTtlSeconds: 86400 * 21 });
    const o = toServerOptions(c, { certPem: "", caPem: "", keyPem: "" } as never, { dataDir: "/tmp/x", logLevel: "info" });
    expect(o.store.postgres).toEqual({ uri: "postgresql://smp@/smp_server_store", schema: "smp_server", poolSize: 10 });
    const custom = parse(minimal('[STORE_LOG]\ndb_connection = "postgres://u:p@h:5433/d"\ndb_schema = "smp2"\ndb_pool_size = 4\ndb_deleted_ttl = 3600\n'));
    expect(custom.storeLog.postgres).toEqual({ connection: "postgres://u:p@h:5433/d", schema: "smp2", poolSize: 4, deletedTtlSeconds: 3600 });
  });

  test("without db_connection the store stays the SQLite database", () => {
    const c = parse(minimal('[STORE_LOG]\nenable = true\nstore_queues = "database"\n'));
    expect(c.storeLog.postgres).toBeUndefined();
  });
});

describe("errors name the file, the key and the reason", () => {
  const cases: [string, string, string, RegExp][] = [
    ["unknown section", minimal("[SERVER]\nx = 1\n"), "[SERVER]", /unknown section/],
    ["unknown key", minimal("prot = 1\n"), "[TRANSPORT] prot", /unknown key/],
    ["key outside sections", "port = 5223\n" + minimal(), "port", /outside any section/],
    ["wrong type (int)", minimal("[STORE_LOG]\nexpire_messages_days = \"21\"\n"), "[STORE_LOG] expire_messages_days", /expected an integer, got string "21"/],
    ["wrong type (bool)", minimal("[STORE_LOG]\nenable = \"yes\"\n"), "[STORE_LOG] enable", /expected true\/false/],
    ["port out of range", "[TRANSPORT]\nport = [5223, 70000]\n", "[TRANSPORT] port", /between 1 and 65535, got 70000/],
    ["port zero in string", '[TRANSPORT]\nport = "0"\n', "[TRANSPORT] port", /between 1 and 65535, got 0/],
    ["port not a number", '[TRANSPORT]\nport = "5223,abc"\n', "[TRANSPORT] port", /expected a port number, got string "abc"/],
    ["duplicate port", "[TRANSPORT]\nport = [443, 443]\n", "[TRANSPORT] port", /listed twice/],
    ["port missing", "[TRANSPORT]\nhost = \"a.example\"\n", "[TRANSPORT] port", /required/],
    ["missing ttl", minimal("[INACTIVE_CLIENTS]\ndisconnect = true\ncheck_interval = 3600\n"), "[INACTIVE_CLIENTS] ttl", /required when disconnect = true/],
    ["missing check_interval", minimal("[INACTIVE_CLIENTS]\ndisconnect = \"on\"\nttl = 60\n"), "[INACTIVE_CLIENTS] check_interval", /required when disconnect = true/],
    ["non-positive days", minimal("[STORE_LOG]\nexpire_messages_days = 0\n"), "[STORE_LOG] expire_messages_days", /between 1 and/],
    ["memory store", minimal('[STORE_LOG]\nstore_queues = "memory"\n'), "[STORE_LOG] store_queues", /not supported.*SQLite/],
    ["journal store", minimal('[STORE_LOG]\nstore_messages = "journal"\n'), "[STORE_LOG] store_messages", /not supported/],
    ["postgres key without db_connection", minimal("[STORE_LOG]\ndb_schema = \"s\"\n"), "[STORE_LOG] db_schema", /needs db_connection/],
    ["db_store_log", minimal('[STORE_LOG]\ndb_connection = "postgresql://x"\ndb_store_log = "on"\n'), "[STORE_LOG] db_store_log", /not supported/],
    ["db_connection not a URI", minimal('[STORE_LOG]\ndb_connection = "host=x dbname=y"\n'), "[STORE_LOG] db_connection", /PostgreSQL URI/],
    ["db_schema not an identifier", minimal('[STORE_LOG]\ndb_connection = "postgresql://x"\ndb_schema = "a;b"\n'), "[STORE_LOG] db_schema", /SQL identifier/],
    ["db_pool_size too small", minimal('[STORE_LOG]\ndb_connection = "postgresql://x"\ndb_pool_size = 1\n'), "[STORE_LOG] db_pool_size", /between 2 and/],
    ["websockets", minimal('websockets = "on"\n'), "[TRANSPORT] websockets", /only false/],
    ["password char", minimal('[AUTH]\ncreate_password = "a@b"\n'), "[AUTH] create_password", /'@' is not allowed/],
    ["password space", minimal('[AUTH]\ncreate_password = "a b"\n'), "[AUTH] create_password", /without spaces/],
    ["country", minimal('[INFORMATION]\nsource_code = "https://x"\nserver_country = "France"\n'), "[INFORMATION] server_country", /2-letter/],
    ["hosting type", minimal('[INFORMATION]\nsource_code = "https://x"\nhosting_type = "cloud"\n'), "[INFORMATION] hosting_type", /expected one of "virtual"/],
    ["names endpoint required", minimal("[NAMES]\nenable = true\n"), "[NAMES] resolver_endpoint", /required when enable = true/],
    ["names cleartext auth", minimal('[NAMES]\nenable = true\nresolver_endpoint = "http://127.evil.com"\nresolver_auth = "bearer t"\n'), "[NAMES] resolver_endpoint", /non-loopback/],
    ["names userinfo", minimal('[NAMES]\nresolver_endpoint = "https://u:p@x.example"\n'), "[NAMES] resolver_endpoint", /userinfo/],
    ["names scheme", minimal('[NAMES]\nresolver_endpoint = "ftp://x.example"\n'), "[NAMES] resolver_endpoint", /http or https/],
    ["names timeout range", minimal("[NAMES]\nresolver_timeout_ms = 50\n"), "[NAMES] resolver_timeout_ms", /between 100 and 60000, got 50/],
    ["names bytes range", minimal("[NAMES]\nresolver_max_response_bytes = 20000\n"), "[NAMES] resolver_max_response_bytes", /between 1024 and 16000/],
    ["names auth", minimal('[NAMES]\nresolver_auth = "basic nouser"\n'), "[NAMES] resolver_auth", /user:password/],
    ["web https without cert", minimal("[WEB]\nhttps = 443\n"), "[WEB] https", /requires both cert and key/],
    ["socks proxy host", minimal('[PROXY]\nsocks_proxy = "localhost:9050"\n'), "[PROXY] socks_proxy", /IPv4 or \[IPv6\]/],
    ["host_mode", minimal('[PROXY]\nhost_mode = "tor"\n'), "[PROXY] host_mode", /expected one of "public", "onion"/],
    ["empty string", minimal('host = ""\n'), "[TRANSPORT] host", /must not be empty/],
    ["nested table", minimal("[TRANSPORT.extra]\nx = 1\n"), "[TRANSPORT] extra", /nested tables/],
  ];
  for (const [name, text, where, reason] of cases) {
    test(name, () => {
      const e = configError(text);
      expect(e.where).toBe(where);
      expect(e.message).toContain(`${FILE}: ${where}: `);
      expect(e.reason).toMatch(reason);
    });
  }

  test("TOML syntax errors give line and column", () => {
    const e = configError("[TRANSPORT]\nport = [5223\n");
    expect(e.where).toBeUndefined();
    expect(e.message).toMatch(/TOML syntax error at line \d+, column \d+/);
  });

  test("unknown keys list the known ones", () => {
    expect(configError(minimal("[PROXY]\nclient_concurency = 3\n")).reason).toContain("client_concurrency");
  });
});

test("toServerOptions maps the config and the fixed reference values", () => {
  const c = parse(minimal('max_connections = 7\n[AUTH]\ncreate_password = "pw"\nnew_queues = false\n[INACTIVE_CLIENTS]\ndisconnect = true\nttl = 10\ncheck_interval = 5\n'));
  const credentials = { chainDer: [], certPem: "", caPem: "", keyPem: "", serverKeyPkcs8: new Uint8Array(), fingerprint: new Uint8Array(32) };
  const o = toServerOptions(c, credentials, { dataDir: "/d", logLevel: "warn" });
  expect(o.transport).toEqual({
    ports: [5223],
    bindHost: "::",
    host: "<hostnames>",
    logTlsErrors: false,
    maxConnections: 7,
    maxConnectionsPerAddress: 1000,
    partialBlockTimeoutMs: 60_000,
  });
  expect(o.auth.allowNewQueues).toBe(false);
  expect(new TextDecoder().decode(o.auth.createPassword)).toBe("pw");
  expect(o.inactiveClients).toEqual({ ttlSeconds: 10, checkIntervalSeconds: 5 });
  expect(o.store.msgQueueQuota).toBe(128); // Server/Main.hs:serverConfig msgQueueQuota
  expect(o.timeouts).toEqual({ tlsSetupMs: 60000, handshakeMs: 120000 });
  expect(o.proxy).toEqual({ enabled: true, clientConcurrency: 32, hostMode: "public", requiredHostMode: false, socksMode: "onion" });
  expect(o.dataDir).toBe("/d");
  expect(o.logLevel).toBe("warn");
});

describe("operations: control port, statistics, [PROMETHEUS]", () => {
  test("control port, passwords, quota, log_stats, prometheus_interval and [PROMETHEUS] http reach the server options", () => {
    const c = parse(
      minimal('control_port = 5224\n[AUTH]\ncontrol_port_admin_password = "a"\ncontrol_port_user_password = "u"\ndaily_block_queue_quota = -1\n[STORE_LOG]\nlog_stats = true\nprometheus_interval = 60\n[PROMETHEUS]\nhttp = "127.0.0.1:9464"\n'),
    );
    expect(c.warnings).toEqual([]);
    expect(c.prometheus).toEqual({ http: { host: "127.0.0.1", port: 9464 } });
    const credentials = { chainDer: [], certPem: "", caPem: "", keyPem: "", serverKeyPkcs8: new Uint8Array(), fingerprint: new Uint8Array(32) };
    const o = toServerOptions(c, credentials, { dataDir: "/d", logLevel: "warn" });
    expect(o.control).toEqual({ port: 5224, adminPassword: "a", userPassword: "u", dailyBlockQueueQuota: -1 });
    expect(o.monitor).toMatchObject({ logStats: true, prometheusIntervalSeconds: 60, http: { host: "127.0.0.1", port: 9464 } });
  });

  test("defaults: no control port, no HTTP endpoint, no statistics files", () => {
    const c = parse(minimal());
    expect(c.prometheus).toEqual({});
    const o = toServerOptions(c, { chainDer: [], certPem: "", caPem: "", keyPem: "", serverKeyPkcs8: new Uint8Array(), fingerprint: new Uint8Array(32) }, { dataDir: "/d", logLevel: "warn" });
    expect(o.control).toBeUndefined();
    expect(o.monitor).toMatchObject({ logStats: false });
    expect(o.monitor!.http).toBeUndefined();
    expect(o.monitor!.prometheusIntervalSeconds).toBeUndefined();
  });

  test("[PROMETHEUS] http = [::1]:9464; a control port without passwords is accepted with a warning", () => {
    expect(parse(minimal('[PROMETHEUS]\nhttp = "[::1]:9464"\n')).prometheus.http).toEqual({ host: "::1", port: 9464 });
    expect(parse(minimal("control_port = 5224\n")).warnings.join("\n")).toContain("every command but help");
  });

  for (const [value, reason] of [
    ['"9464"', /expected "host:port"/],
    ['"127.0.0.1:0"', /between 1 and 65535/],
    ['"localhost:99999"', /between 1 and 65535/],
    ["9464", /expected a string/],
  ] as const)
    test(`[PROMETHEUS] http = ${value} is refused`, () => {
      const e = configError(minimal(`[PROMETHEUS]\nhttp = ${value}\n`));
      expect(e.message).toContain("[PROMETHEUS] http");
      expect(e.message).toMatch(reason);
    });
});
