/**
 * smp-server.ini (the reference's configuration) → smp-server.toml. Each key the reference reads
 * (Server/Main.hs:serverConfig, readStoreType, serverPublicInfo, readNamesConfig; Server/CLI.hs:
 * iniTransports, iniDBOptions; written by Server/Main/Init.hs:iniFileContent) is carried over with the
 * reference's reading of its value (Data.Ini semantics: ./ini-reader.ts; on/off and integers as
 * iniOnOff/readIniDefault). A note says where the meaning changes here or a key cannot be honoured.
 * The result is checked with this server's own configuration reader: a value it refuses is left
 * commented out with a note, so the file always loads.
 */
import { ConfigError, parseConfig } from "../config.ts";
import { tomlString } from "../toml-string.ts";
import { effectiveSections, parseIni, type IniEntry } from "./ini-reader.ts";

type Kind = "string" | "bool" | "int" | "ports" | "words";

interface KeySpec {
  kind: Kind;
  /** Shown after the key's value when it is carried over with a caveat. */
  caveat?: string | ((value: string) => string | undefined);
  /**
   * A value that cannot be carried over stops the import instead of leaving the default: the
   * reference would not start with it either, and the default would open the server (no password,
   * new queues allowed) or make it forget everything on restart (store log off).
   */
  strict?: boolean;
  /** The key is not carried over; the note gives the reason ("" for none: the default means the same). */
  drop?: string | ((value: string) => string | undefined);
}

const NO_POSTGRES =
  "not carried over: the import puts queues and messages in the SQLite database in the data directory, and this server's own " +
  "PostgreSQL store (db_connection) has tables of its own that must never share the reference's schema " +
  "(a PostgreSQL-backed reference is migrated with its own `smp-server database export`, then `smp-server import`)";
const INFO: KeySpec = { kind: "string" };

/** Our sections in the order smp-server.toml lists them, with every key the reference reads. */
const SPEC: Record<string, Record<string, KeySpec>> = {
  INFORMATION: Object.fromEntries(
    [
      "source_code", "usage_conditions", "condition_amendments", "server_country", "operator", "operator_country", "website",
      "admin_simplex", "admin_email", "admin_pgp", "admin_pgp_fingerprint",
      "complaints_simplex", "complaints_email", "complaints_pgp", "complaints_pgp_fingerprint",
      "hosting", "hosting_country", "hosting_type",
    ].map((k) => [k, INFO]),
  ),
  STORE_LOG: {
    enable: { kind: "bool", strict: true, caveat: (v) => (v === "on" ? "queues and messages persist in the SQLite database in the data directory" : undefined) },
    store_queues: {
      kind: "string",
      drop: (v) =>
        v === "database"
          ? NO_POSTGRES
          : `not carried over: queues are kept in the SQLite database in the data directory (persisted while [STORE_LOG] enable is on)${v === "memory" ? "" : `; "${v}" is not a storage mode the reference accepts either`}`,
    },
    store_messages: {
      kind: "string",
      drop: (v) =>
        v === "journal"
          ? "not carried over: messages are kept in the SQLite database in the data directory; `smp-server import` copies the journal (messages/ in the reference's log directory) into it"
          : v === "database"
            ? NO_POSTGRES
            : "not carried over: messages are kept in the SQLite database in the data directory; `smp-server import` copies smp-server-messages.log into it",
    },
    db_connection: { kind: "string", drop: NO_POSTGRES },
    db_schema: { kind: "string", drop: NO_POSTGRES },
    db_pool_size: { kind: "string", drop: NO_POSTGRES },
    db_store_log: { kind: "string", drop: NO_POSTGRES },
    db_deleted_ttl: { kind: "string", drop: NO_POSTGRES },
    restore_messages: {
      kind: "bool",
      caveat: (v) => (v === "off" ? "messages in the database persist across restarts whenever enable is on; this key has no effect here" : undefined),
    },
    expire_messages_days: { kind: "int" },
    expire_messages_on_start: { kind: "bool" },
    expire_messages_on_send: { kind: "bool" },
    expire_ntfs_hours: { kind: "int" },
    log_stats: { kind: "bool" },
    prometheus_interval: { kind: "int" },
  },
  AUTH: {
    new_queues: { kind: "bool", strict: true },
    create_password: { kind: "string", strict: true },
    control_port_admin_password: { kind: "string", strict: true },
    control_port_user_password: { kind: "string", strict: true },
    daily_block_queue_quota: { kind: "int" },
  },
  TRANSPORT: {
    // iniFileContent writes the placeholder when init had no host; absent means the same here.
    host: { kind: "string", drop: (v) => (v === "<hostnames>" ? "" : undefined) },
    port: { kind: "ports" },
    log_tls_errors: { kind: "bool" },
    websockets: {
      kind: "bool",
      drop: (v) =>
        v === "off" ? undefined : "not carried over: WebSocket listeners are not implemented (the reference marks them deprecated, for testing only); only the TLS ports are served",
    },
    control_port: { kind: "int" },
  },
  PROXY: {
    host_mode: { kind: "string" },
    required_host_mode: { kind: "bool" },
    own_server_domains: {
      kind: "words",
      // init writes --own-domains comma-joined, but the reader splits on spaces only (T.words).
      caveat: (v) => (v.includes(",") ? "split on spaces as the reference does, so a comma-separated list stays one suffix; separate them with spaces if that was not meant" : undefined),
    },
    socks_proxy: { kind: "string" },
    socks_mode: { kind: "string" },
    client_concurrency: { kind: "int" },
  },
  NAMES: {
    enable: { kind: "bool" },
    resolver_endpoint: { kind: "string" },
    resolver_auth: { kind: "string" },
    resolver_timeout_ms: { kind: "int" },
    resolver_max_response_bytes: { kind: "int" },
    resolver_concurrency: {
      kind: "int",
      caveat: "the limit is server-wide here (the reference counts per connection); up to 10× as many more wait",
    },
  },
  INACTIVE_CLIENTS: {
    disconnect: { kind: "bool" },
    ttl: { kind: "int" },
    check_interval: { kind: "int" },
  },
  WEB: {
    static_path: { kind: "string" },
    http: { kind: "int" },
    https: { kind: "int" },
    cert: { kind: "string" },
    key: { kind: "string" },
  },
};

/** The reference's value as TOML, or the reason it cannot be one (the reference would fail on it too). */
function tomlValue(kind: Kind, v: string): { toml: string } | { error: string } {
  switch (kind) {
    case "string":
      // The reference reads an empty value as a present, empty string; ours wants the key removed.
      return v === "" ? { error: "empty value" } : { toml: tomlString(v) };
    case "bool":
      // Server/CLI.hs:iniOnOff: exactly "on" or "off", anything else stops the reference at start.
      return v === "on" ? { toml: "true" } : v === "off" ? { toml: "false" } : { error: `expected on or off (the reference refuses ${JSON.stringify(v)} too)` };
    case "int":
      // readIniDefault uses `read`: an optional minus and decimal digits (leading zeros allowed).
      return /^-?\d+$/.test(v) ? { toml: BigInt(v).toString() } : { error: `expected an integer, got ${JSON.stringify(v)}` };
    case "ports": {
      // Server/CLI.hs:iniTransports splits on "," without trimming; a port name must be digits.
      const parts = v.split(",");
      if (!parts.every((p) => /^\d+$/.test(p))) return { error: `expected comma-separated port numbers, got ${JSON.stringify(v)}` };
      return { toml: `[${parts.map((p) => BigInt(p).toString()).join(", ")}]` };
    }
    case "words": {
      // Server/Main.hs:textToOwnServers: T.words.
      const words = v.split(/\s+/).filter((w) => w !== "");
      return { toml: `[${words.map(tomlString).join(", ")}]` };
    }
  }
}

interface OutLine {
  section: string;
  key: string;
  text: string;
}

/**
 * Converts the text of a reference smp-server.ini (read from `iniPath`, used in notes) to an
 * smp-server.toml that this server loads, plus one note per key carried over with a caveat or not
 * at all. Throws ConfigError (naming `iniPath`) only when no loadable file can be made, e.g.
 * without `[TRANSPORT] port`, which the reference requires too.
 */
export function convertReferenceIni(iniText: string, iniPath: string): { toml: string; notes: string[] } {
  const ini = parseIni(iniText);
  const notes: string[] = [];
  const at = (e: { line: number }) => `${iniPath}:${e.line}`;
  const show = (section: string, e: IniEntry) => `[${section}] ${e.key.replace(/\n/g, "\\n")} = ${e.value}`;

  for (const g of ini.globals) notes.push(`${at(g)}: ${g.key} = ${g.value}: ignored (outside any section; the reference ignores it too)`);
  if (ini.stoppedAt !== undefined)
    notes.push(
      `${iniPath}:${ini.stoppedAt.line}: ${JSON.stringify(ini.stoppedAt.text)} is neither a "key = value" line nor a [SECTION] header: ` +
        "the reference's INI reader stops there, so the rest of the file is ignored (here too)",
    );
  const effective = effectiveSections(ini);
  for (const s of ini.sections)
    if (effective.get(s.name) !== s) notes.push(`${at(s)}: [${s.name}]: ignored, a later [${s.name}] section replaces it (as in the reference)`);

  const lines: OutLine[] = [];
  for (const [name, section] of effective) {
    const specs = SPEC[name];
    if (specs === undefined) {
      notes.push(`${at(section)}: [${name}]: unknown section, not carried over (the reference does not read it)`);
      continue;
    }
    const seen = new Set<string>();
    for (const e of section.entries) {
      const spec = Object.hasOwn(specs, e.key) ? specs[e.key] : undefined;
      if (spec === undefined) {
        notes.push(`${at(e)}: ${show(name, e)}: unknown key, not carried over (the reference does not read it)`);
        continue;
      }
      if (seen.has(e.key)) {
        notes.push(`${at(e)}: ${show(name, e)}: ignored, the first ${e.key} in [${name}] is the one in effect (as in the reference)`);
        continue;
      }
      seen.add(e.key);
      const drop = typeof spec.drop === "function" ? spec.drop(e.value) : spec.drop;
      if (drop !== undefined) {
        if (drop !== "") notes.push(`${at(e)}: ${show(name, e)}: ${drop}`);
        lines.push({ section: name, key: e.key, text: `# ${e.key} = ${e.value} (not carried over, see the import notes)` });
        continue;
      }
      const v = tomlValue(spec.kind, e.value);
      if ("error" in v && spec.strict === true) throw new ConfigError(iniPath, `[${name}] ${e.key}`, `${v.error} (line ${e.line}; the reference does not start with it either, and leaving it out would change what the server allows)`);
      if ("error" in v) {
        notes.push(`${at(e)}: ${show(name, e)}: not carried over: ${v.error}`);
        lines.push({ section: name, key: e.key, text: `# ${e.key} = ${e.value} (not carried over: ${v.error})` });
        continue;
      }
      const caveat = typeof spec.caveat === "function" ? spec.caveat(e.value) : spec.caveat;
      if (caveat !== undefined) notes.push(`${at(e)}: ${show(name, e)}: ${caveat}`);
      lines.push({ section: name, key: e.key, text: `${e.key} = ${v.toml}` });
    }
  }

  // Server/Main.hs:serverPublicInfo reads nothing without source_code; our reader would warn at
  // every start about keys that init always writes (hosting_type = virtual), so they stay comments.
  const info = lines.filter((l) => l.section === "INFORMATION" && !l.text.startsWith("#"));
  if (info.length > 0 && !info.some((l) => l.key === "source_code")) {
    const unused = info.filter((l) => !(l.key === "hosting_type" && l.text === 'hosting_type = "virtual"'));
    if (unused.length > 0)
      notes.push(`${iniPath}: [INFORMATION] ${unused.map((l) => l.key).join(", ")}: not carried over: without source_code the reference publishes no server information (AGPLv3), and neither does this server; kept as comments`);
    for (const l of info) l.text = `# ${l.text} (unused without source_code)`;
  }

  // Our reader is the judge of what loads: a value it refuses is commented out with its reason.
  for (;;) {
    const toml = render(iniPath, lines);
    try {
      parseConfig(toml, "smp-server.toml");
      return { toml, notes };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const m = e.where === undefined ? null : /^\[([A-Z_]+)\] (\S+)$/.exec(e.where);
      const idx = m === null ? -1 : lines.findIndex((l) => l.section === m[1] && l.key === m[2] && !l.text.startsWith("#"));
      if (idx < 0) throw new ConfigError(iniPath, e.where, `${e.reason} (cannot convert to smp-server.toml)`);
      const l = lines[idx];
      const entry = effective.get(l.section)!.entries.find((x) => x.key === l.key)!;
      if (SPEC[l.section][l.key].strict === true)
        throw new ConfigError(iniPath, e.where, `${e.reason} (line ${entry.line}; the reference does not start with it either, and leaving it out would change what the server allows)`);
      notes.push(`${at(entry)}: ${show(l.section, entry)}: not carried over: ${e.reason}`);
      lines[idx] = { ...l, text: `# ${l.text} (not carried over: ${e.reason})` };
    }
  }
}

function render(iniPath: string, lines: OutLine[]): string {
  const out = [`# smp-server configuration (TOML), converted from ${iniPath} by \`smp-server import\`.`, "# Every key is described in docs/configuration.md.", ""];
  for (const section of Object.keys(SPEC)) {
    out.push(`[${section}]`);
    for (const l of lines) if (l.section === section) out.push(l.text);
    out.push("");
  }
  return out.join("\n");
}
