/**
 * convertReferenceIni: INIs as the reference's `init` writes them (Server/Main/Init.hs:iniFileContent,
 * rendered by test/fixtures/reference-ini.ts) for several option combinations, converted and loaded
 * with our own configuration reader; and the reference's INI reading rules (the `ini` package 0.4.1 as
 * used by Server/Main.hs) on the edge cases where a generic INI parser would differ.
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig, type SmpConfig } from "../../../src/cli/config.ts";
import { convertReferenceIni } from "../../../src/cli/import/ini.ts";
import { iniFileContent, type ReferenceInitOptions } from "../../fixtures/reference-ini.ts";

const INI = "/etc/opt/simplex/smp-server.ini";

function load(iniText: string): { cfg: SmpConfig; toml: string; notes: string[] } {
  const { toml, notes } = convertReferenceIni(iniText, INI);
  return { cfg: parseConfig(toml, "smp-server.toml"), toml, notes };
}

const BASE: ReferenceInitOptions = {
  cfgPath: "/etc/opt/simplex",
  logPath: "/var/opt/simplex",
  enableStoreLog: true,
  logStats: false,
  host: "<hostnames>",
  basicAuth: "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr",
  disableWeb: false,
};

/** `init --source-code … --operator … …`: the same values come back from our reader. */
const INFO = {
  sourceCode: "https://github.com/simplex-chat/simplexmq",
  serverCountry: "DE",
  operator: { name: "Example Ltd", country: "GB" },
  website: "https://example.com",
  hosting: { name: "Hoster", country: "NL" },
  hostingType: "dedicated",
} as const;

describe("INI written by the reference's init → smp-server.toml that loads", () => {
  test("`init --yes` defaults: store log on, random password, no control port", () => {
    const { cfg, notes } = load(iniFileContent(BASE));
    expect(cfg.storeLog).toEqual({
      enable: true,
      restoreMessages: true,
      expireMessagesDays: 21,
      expireMessagesOnStart: true,
      expireMessagesOnSend: false, // iniFileContent writes off (the code default is on)
      expireNtfsHours: 24,
      logStats: false,
      prometheusIntervalSeconds: undefined,
    });
    expect(cfg.auth).toEqual({
      newQueues: true,
      createPassword: BASE.basicAuth,
      controlPortAdminPassword: undefined,
      controlPortUserPassword: undefined,
      dailyBlockQueueQuota: 20,
    });
    expect(cfg.transport.host).toBeUndefined(); // "<hostnames>" is the placeholder, as absent
    expect(cfg.transport.ports).toEqual([5223, 443]);
    expect(cfg.transport.logTlsErrors).toBe(false);
    expect(cfg.transport.controlPort).toBeUndefined();
    expect(cfg.proxy.socksProxy).toBeUndefined();
    expect(cfg.proxy.ownServerDomains).toEqual([]);
    expect(cfg.names.enable).toBe(false); // written as `enable: off`
    expect(cfg.inactiveClients).toEqual({ ttlSeconds: 21600, checkIntervalSeconds: 3600 });
    expect(cfg.information).toBeUndefined(); // source_code commented out
    // hosting_type = virtual, always written by init, is unused without source_code: no start-up warning.
    expect(cfg.warnings.filter((w) => w.includes("[INFORMATION]"))).toEqual([]);
    expect(cfg.web).toEqual({ staticPath: "/var/opt/simplex/www", https: { port: 443, cert: "/etc/opt/simplex/web.crt", key: "/etc/opt/simplex/web.key" } });
    // One note per key with a caveat; keys that mean the same here have none.
    const keysNoted = notes.map((n) => /\] (\w+) =/.exec(n)?.[1]);
    expect(keysNoted).toEqual(["enable", "store_queues", "store_messages"]);
    expect(notes.every((n) => n.startsWith(`${INI}:`))).toBe(true);
    expect(notes.find((n) => n.includes("store_messages = memory"))).toContain("smp-server-messages.log");
  });

  test("every init option set: no store log, no password, stats, control port, SOCKS, own domains, server information, web disabled, PostgreSQL options", () => {
    const o: ReferenceInitOptions = {
      ...BASE,
      enableStoreLog: false,
      logStats: true,
      host: "smp.example.com",
      basicAuth: undefined,
      controlPort: 5225,
      controlPortPwds: ["adminPw_0123456789abcdef", "userPw_0123456789abcdefgh"],
      socksProxy: "127.0.0.1:9050",
      ownDomains: "example.com",
      ...INFO,
      webStaticPath: "/srv/www",
      disableWeb: true,
      db: { connstr: "postgresql://smp@db/smp", poolSize: 4 },
    };
    const { cfg, notes } = load(iniFileContent(o));
    expect(cfg.storeLog.enable).toBe(false);
    expect(cfg.storeLog.restoreMessages).toBe(false);
    expect(cfg.storeLog.logStats).toBe(true);
    expect(cfg.auth.createPassword).toBeUndefined();
    expect(cfg.auth.controlPortAdminPassword).toBe("adminPw_0123456789abcdef");
    expect(cfg.auth.controlPortUserPassword).toBe("userPw_0123456789abcdefgh");
    expect(cfg.transport.host).toBe("smp.example.com");
    expect(cfg.transport.controlPort).toBe(5225);
    expect(cfg.proxy.socksProxy).toEqual({ host: "127.0.0.1", port: 9050 });
    expect(cfg.proxy.ownServerDomains).toEqual(["example.com"]);
    expect(cfg.information).toEqual(INFO);
    expect(cfg.web).toEqual({ staticPath: "/srv/www" });
    const noted = (key: string) => notes.filter((n) => n.includes(`] ${key} =`));
    expect(noted("db_connection")[0]).toContain("must never share the reference's schema");
    expect(noted("db_pool_size")[0]).toContain("database export");
    expect(noted("db_schema")).toEqual([]); // default, so commented out by init
    // Statistics, the control port and the web pages work here as there: no notes.
    expect(noted("log_stats")).toEqual([]);
    expect(noted("control_port")).toEqual([]);
    expect(noted("control_port_admin_password")).toEqual([]);
  });

  test("store_messages = journal, websockets on and a comma-separated own_server_domains carry notes", () => {
    const text = iniFileContent({ ...BASE, ownDomains: "a.example.com,b.example.com" })
      .replace("store_messages = memory", "store_messages = journal")
      .replace("websockets = off", "websockets = 443");
    const { cfg, notes, toml } = load(text);
    expect(notes.find((n) => n.includes("store_messages = journal"))).toContain("copies the journal (messages/");
    expect(notes.find((n) => n.includes("websockets = 443"))).toContain("WebSocket listeners are not implemented");
    expect(toml).toContain("# websockets = 443 (not carried over");
    // Server/Main.hs:textToOwnServers splits on spaces only: the reference sees one suffix.
    expect(cfg.proxy.ownServerDomains).toEqual(["a.example.com,b.example.com"]);
    expect(notes.find((n) => n.includes("own_server_domains"))).toContain("split on spaces");
  });

  test("server information without source_code is not carried over (the reference publishes none), with a note", () => {
    const { cfg, notes, toml } = load(iniFileContent({ ...BASE, operator: { name: "Example Ltd" }, serverCountry: "DE" }));
    expect(cfg.information).toBeUndefined();
    expect(cfg.warnings).toEqual(expect.not.arrayContaining([expect.stringContaining("[INFORMATION]")]));
    expect(toml).toContain('# server_country = "DE" (unused without source_code)');
    expect(notes).toContain(
      `${INI}: [INFORMATION] server_country, operator: not carried over: without source_code the reference publishes no server information (AGPLv3), and neither does this server; kept as comments`,
    );
  });

  test("a second conversion gives the same file (no dates, no randomness)", () => {
    const text = iniFileContent(BASE);
    expect(convertReferenceIni(text, INI)).toEqual(convertReferenceIni(text, INI));
  });
});

describe("the reference's INI reading rules (ini 0.4.1)", () => {
  const minimal = (extra: string) => `[TRANSPORT]\nport = 5223\n${extra}`;

  test("`key: value` drops one character after the colon; `key = value` is trimmed", () => {
    expect(load(minimal("[NAMES]\nenable: on\nresolver_endpoint: http://127.0.0.1:8000\n")).cfg.names).toMatchObject({ enable: true, resolverEndpoint: "http://127.0.0.1:8000" });
    // "enable:on" → "n": not on/off, so it is not carried over (the reference refuses it at start).
    const { cfg, notes } = load(minimal("[NAMES]\nenable:on\n"));
    expect(cfg.names.enable).toBe(false);
    expect(notes.find((n) => n.includes("[NAMES] enable = n"))).toContain("expected on or off");
  });

  test("no inline comments: `#` after a value is part of it", () => {
    const { notes, cfg } = load("[TRANSPORT]\nport = 5223 # main port\nhost = a.example.com\n".replace("port = 5223 # main port", "port = 5223\nlog_tls_errors = on # loud"));
    expect(cfg.transport.logTlsErrors).toBe(false);
    expect(notes.find((n) => n.includes("log_tls_errors"))).toContain('"on # loud"');
  });

  test("comments start with # or ; (after blanks); first key wins; last section wins", () => {
    const text = "; a comment\n  # indented comment\n[TRANSPORT]\nport = 1111\n[TRANSPORT]\nport = 5223\nport = 443\n  ; x\nhost = b.example.com\n";
    const { cfg, notes } = load(text);
    expect(cfg.transport.ports).toEqual([5223]);
    expect(cfg.transport.host).toBe("b.example.com");
    expect(notes).toContain(`${INI}:3: [TRANSPORT]: ignored, a later [TRANSPORT] section replaces it (as in the reference)`);
    expect(notes).toContain(`${INI}:7: [TRANSPORT] port = 443: ignored, the first port in [TRANSPORT] is the one in effect (as in the reference)`);
  });

  test("reading stops silently at a line that is neither key nor section: the rest is ignored, and said so", () => {
    const text = "[TRANSPORT]\nport = 5223\n[AUTH\nnew_queues = off\n[STORE_LOG]\nenable = on\n";
    const { cfg, notes } = load(text);
    expect(cfg.auth.newQueues).toBe(true);
    expect(cfg.storeLog.enable).toBe(false);
    expect(notes).toContain(`${INI}:3: "[AUTH" is neither a "key = value" line nor a [SECTION] header: the reference's INI reader stops there, so the rest of the file is ignored (here too)`);
  });

  test("unknown keys and sections, and keys outside any section, are not carried over", () => {
    const { notes, toml } = load("stray = 1\n" + minimal("frobnicate = 2\n[EXTRA]\nx = 1\n"));
    expect(notes).toEqual([
      `${INI}:1: stray = 1: ignored (outside any section; the reference ignores it too)`,
      `${INI}:4: [TRANSPORT] frobnicate = 2: unknown key, not carried over (the reference does not read it)`,
      `${INI}:5: [EXTRA]: unknown section, not carried over (the reference does not read it)`,
    ]);
    expect(toml).not.toContain("frobnicate");
  });

  test("a value our reader refuses is commented out with its reason; the file still loads", () => {
    const { cfg, notes, toml } = load(minimal("[INFORMATION]\nsource_code = https://x.example\nserver_country = Germany\n[STORE_LOG]\nexpire_messages_days = 021\n"));
    expect(cfg.storeLog.expireMessagesDays).toBe(21); // `read` accepts leading zeros; TOML would not
    expect(cfg.information?.serverCountry).toBeUndefined();
    expect(notes.find((n) => n.includes("server_country = Germany"))).toContain("ISO 3166");
    expect(toml).toMatch(/^# server_country = "Germany" \(not carried over: /m);
  });

  test("a bad value of a key that guards the server (password, new_queues, enable) stops the conversion instead of opening it", () => {
    const cases: [string, string, RegExp][] = [
      ["[AUTH]\ncreate_password = has space\n", "[AUTH] create_password", /only printable ASCII characters without spaces/],
      ["[AUTH]\ncreate_password = a@b\n", "[AUTH] create_password", /the character '@' is not allowed/],
      ["[AUTH]\nnew_queues = no\n", "[AUTH] new_queues", /expected on or off/],
      ["[STORE_LOG]\nenable = yes\n", "[STORE_LOG] enable", /expected on or off/],
    ];
    for (const [extra, where, reason] of cases) {
      let err: unknown;
      try {
        convertReferenceIni(minimal(extra), INI);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).where).toBe(where);
      expect((err as ConfigError).message).toStartWith(`${INI}: ${where}: `);
      expect((err as ConfigError).reason).toMatch(reason);
      expect((err as ConfigError).reason).toContain("line 4;");
    }
  });

  test("without [TRANSPORT] port (the reference requires it too): ConfigError naming the INI file and key", () => {
    let err: unknown;
    try {
      convertReferenceIni("[STORE_LOG]\nenable = on\n", INI);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toStartWith(`${INI}: [TRANSPORT] port: required`);
  });
});
