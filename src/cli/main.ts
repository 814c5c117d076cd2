/**
 * The `smp-server` executable (Server/Main.hs:smpServerCLI_, cliCommandP): verbs init, cert, start,
 * delete, control, stats, database, import, export, backup. Run with `bun src/cli/main.ts …` or as the compiled binary.
 * Each verb loads its module only when it runs: a running server then never holds the code of the
 * import, export or database tools, and the supervisor of several nodes (`start --nodes`) not the
 * server's.
 */
import { CertificateError } from "../crypto/x509/certificate.ts";
import { isLogLevel, LOG_LEVELS, setLogLevel, type LogLevel } from "../util/log.ts";
import { optionsHelp, parseOptions, portOpt, stringOpt, UsageError, type OptionSpec, type ParsedOptions } from "./args.ts";
import { CertFileError, regenerateServerCert } from "./certs.ts";
import { ConfigError, DEFAULT_DB_SCHEMA, HOSTING_TYPES, type HostingType, type SmpConfig } from "./config.ts";
import type { PostgresTarget } from "../store/transfer.ts";
import type { ControlRole } from "./control.ts";
import { CliError, type Out } from "./errors.ts";
import { REFERENCE_CONFIG_DIR, REFERENCE_DATA_DIR } from "./identity-guard.ts";
import type { InitOptions, PasswordChoice } from "./init.ts";
import { configFile, currentPathEnv, resolvePaths, type PathEnv, type Paths } from "./paths.ts";
import { logIgnoredStartOptions, REFERENCE_START_OPTIONS, referenceStartFlags, splitRtsOptions } from "./reference-start.ts";
import { nodesOption } from "./nodes.ts";
import { SERVER_VERSION_LINE, SMP_VERSIONS_LINE } from "./version.ts";

const EXE = "smp-server";

const COMMON: OptionSpec[] = [
  { name: "config-dir", kind: "value", metavar: "DIR", help: "Configuration directory (default: /etc/opt/simplex as root, else $XDG_CONFIG_HOME/simplex; env SMP_SERVER_CFG_PATH)" },
  { name: "data-dir", kind: "value", metavar: "DIR", help: "Data and log directory (default: /var/opt/simplex as root, else $XDG_DATA_HOME/simplex; env SMP_SERVER_LOG_PATH)" },
  { name: "help", short: "h", kind: "flag", help: "Show this help text" },
];

const SIGN_ALGORITHM: OptionSpec = { name: "sign-algorithm", short: "a", kind: "value", metavar: "ALG", help: "Signature algorithm for TLS certificates: ED25519 (ED448 is not supported)" };

const INIT: OptionSpec[] = [
  { name: "ip", kind: "value", metavar: "IP", help: "Server IP address, used as Common Name for TLS online certificate if FQDN is not supplied (default: 127.0.0.1)" },
  { name: "fqdn", short: "n", kind: "value", metavar: "FQDN", help: "Server FQDN used as Common Name for TLS online certificate" },
  { name: "port", kind: "value", metavar: "PORTS", help: "Comma-separated listener ports (default: 5223,443 as root, 5223 otherwise)" },
  { name: "password", kind: "value", metavar: "PASSWORD", help: "Set password to create new messaging queues (default: random)" },
  { name: "no-password", kind: "flag", help: "Allow creating new queues without password" },
  { name: "disable-store-log", kind: "flag", help: "Do not persist queues and messages (enabled by default)" },
  { name: "store-log", short: "l", kind: "flag", help: "Enable store log for persistence (DEPRECATED, enabled by default)" },
  { name: "daily-stats", short: "s", kind: "flag", help: "Enable logging daily server statistics" },
  SIGN_ALGORITHM,
  { name: "control-port", kind: "optional", metavar: "PORT", help: "Enable control port (5224 when no PORT is given)" },
  { name: "socks-proxy", kind: "optional", metavar: "PROXY", help: "Outgoing SOCKS proxy to forward messages to onion-only servers (127.0.0.1:9050 when no PROXY is given)" },
  { name: "own-domains", kind: "value", metavar: "DOMAINS", help: "Own server domain names (comma-separated)" },
  { name: "source-code", kind: "value", metavar: "URI", help: "Server source code" },
  { name: "operator", kind: "value", metavar: "OPERATOR_NAME", help: "Server operator name" },
  { name: "operator-country", kind: "value", metavar: "OPERATOR_COUNTRY", help: "Server operator country" },
  { name: "hosting", kind: "value", metavar: "HOSTING_NAME", help: "Hosting provider name" },
  { name: "hosting-country", kind: "value", metavar: "HOSTING_COUNTRY", help: "Hosting provider country" },
  { name: "hosting-type", kind: "value", metavar: "HOSTING_TYPE", help: "Hosting type: virtual, dedicated, colocation, owned" },
  { name: "server-country", kind: "value", metavar: "SERVER_COUNTRY", help: "Server datacenter country" },
  { name: "operator-website", kind: "value", metavar: "WEBSITE", help: "Operator public website" },
  { name: "web-path", kind: "value", metavar: "PATH", help: "Directory to store generated static site with server information" },
  { name: "disable-web", kind: "flag", help: "Disable starting static web server with server information (HTTPS stays commented out in the configuration)" },
  { name: "web-cert", kind: "value", metavar: "self-signed", help: "Create a self-signed web certificate (web.crt, web.key) so the HTTPS pages work at once" },
  { name: "yes", short: "y", kind: "flag", help: "Non-interactive initialization (init never prompts; accepted for compatibility)" },
  ...COMMON,
];

const CERT: OptionSpec[] = [
  SIGN_ALGORITHM,
  { name: "cn", kind: "value", metavar: "FQDN", help: "Set new Common Name for TLS online certificate (default: the current one)" },
  { name: "ca-key", kind: "value", metavar: "FILE", help: "CA private key, Ed25519 or Ed448 (default: ca.key in the configuration directory)" },
  { name: "ca-cert", kind: "value", metavar: "FILE", help: "CA certificate (default: ca.crt in the configuration directory)" },
  ...COMMON,
];

const START: OptionSpec[] = [
  { name: "create-store", kind: "flag", help: "Create a new, empty database when it is missing (otherwise an initialized server refuses to start without it)" },
  { name: "log-level", kind: "value", metavar: "LOG_LEVEL", help: `Logging level: ${LOG_LEVELS.join(", ")} (default: info)` },
  { name: "nodes", kind: "value", metavar: "N", help: "Server processes on this machine, all on the same ports: a number or auto (one per core); more than 1 needs PostgreSQL (default: [NODES] count, 1)" },
  ...REFERENCE_START_OPTIONS,
  ...COMMON,
];

const ROLE: OptionSpec = { name: "role", kind: "value", metavar: "ROLE", help: "Control port role: admin or user (default: admin if its password is set, else user)" };
const NODE: OptionSpec = { name: "node", kind: "value", metavar: "N", help: "With several nodes (start --nodes): node N's control port, control_port + N - 1 (default 1)" };
const CONTROL: OptionSpec[] = [ROLE, NODE, ...COMMON];
const STATS: OptionSpec[] = [
  ROLE,
  NODE,
  { name: "watch", short: "w", kind: "value", metavar: "SECONDS", help: "Live view: redraw every SECONDS with each counter's change per second" },
  { name: "count", kind: "value", metavar: "N", help: "With --watch: stop after N tables" },
  ...COMMON,
];

const DELETE: OptionSpec[] = [{ name: "yes", short: "y", kind: "flag", help: "Delete without asking for confirmation" }, ...COMMON];

const IMPORT: OptionSpec[] = [
  { name: "from-config-dir", kind: "value", metavar: "DIR", help: `The reference server's configuration directory (default: ${REFERENCE_CONFIG_DIR})` },
  { name: "from-data-dir", kind: "value", metavar: "DIR", help: `The reference server's log directory (default: ${REFERENCE_DATA_DIR})` },
  { name: "dry-run", kind: "flag", help: "Print what would be imported; write nothing" },
  { name: "skip-warnings", kind: "flag", help: "Skip a corrupt last line of a log file (left by an interrupted write) instead of stopping" },
  {
    name: "database",
    short: "d",
    kind: "value",
    metavar: "URI",
    help: "Import into this PostgreSQL database (written to the new smp-server.toml as db_connection); default: the db_connection of an existing smp-server.toml, else the SQLite file",
  },
  { name: "schema", kind: "value", metavar: "SCHEMA", help: `PostgreSQL schema with --database (default: ${DEFAULT_DB_SCHEMA})` },
  ...COMMON,
];

const EXPORT: OptionSpec[] = [
  { name: "to-dir", kind: "value", metavar: "DIR", help: "Where to write the reference's log files (default: the data directory)" },
  ...COMMON,
];

interface Verb {
  specs: OptionSpec[];
  describe: (paths: Paths) => string;
  /** Positional arguments, for the usage line. */
  args?: string;
}

const VERBS: Record<string, Verb> = {
  init: { specs: INIT, describe: (p) => `Initialize server - creates ${p.configDir} and ${p.dataDir} directories and configuration files` },
  cert: { specs: CERT, describe: (p) => `Generate new online TLS server credentials (configuration: ${configFile(p)})` },
  start: { specs: START, describe: (p) => `Start server (configuration: ${configFile(p)}; initializes it first when missing)` },
  delete: { specs: DELETE, describe: () => "Delete configuration and log files" },
  control: { specs: CONTROL, describe: () => "Send a command to the running server's control port, e.g. `control stats`, `control block <id> reason=spam` (`control help`)" },
  stats: { specs: STATS, describe: () => "Print the running server's statistics as a table, or a live view with --watch (through the control port)" },
  database: {
    specs: COMMON,
    args: "import|export",
    describe: () => "import: copy the SQLite database to PostgreSQL (db_connection); export: copy PostgreSQL to the SQLite database",
  },
  import: { specs: IMPORT, describe: () => "Import a reference server installation (configuration, identity, queues, messages, notifications)" },
  export: { specs: EXPORT, describe: () => "Write the database as the reference server's store log, message log and notification log" },
  backup: { specs: COMMON, args: "FILE", describe: (p) => `Copy the database in ${p.dataDir} to FILE, also while the server runs` },
};

function versionText(): string {
  return `${SERVER_VERSION_LINE}\n${SMP_VERSIONS_LINE}`;
}

function mainHelp(paths: Paths): string {
  const width = Math.max(...Object.keys(VERBS).map((v) => v.length));
  return [
    `${SERVER_VERSION_LINE} (${SMP_VERSIONS_LINE})`,
    "",
    `Usage: ${EXE} COMMAND [OPTIONS]`,
    "",
    "Commands:",
    ...Object.entries(VERBS).map(([name, v]) => `  ${name.padEnd(width)}  ${v.describe(paths)}`),
    "",
    "Options:",
    "  -h, --help     Show this help text",
    "  -v, --version  Show version",
    "",
    `Run \`${EXE} COMMAND --help\` for the options of a command.`,
  ].join("\n");
}

function verbHelp(name: string, paths: Paths): string {
  const v = VERBS[name];
  return `Usage: ${EXE} ${name}${v.args === undefined ? "" : ` ${v.args}`} [OPTIONS]\n\n${v.describe(paths)}\n\nOptions:\n${optionsHelp(v.specs)}`;
}

function signAlgorithm(opts: ParsedOptions): void {
  const alg = stringOpt(opts, "sign-algorithm");
  if (alg === undefined || alg === "ED25519") return;
  if (alg === "ED448")
    throw new UsageError("--sign-algorithm ED448 is not supported: Bun's TLS stack cannot use Ed448 keys; use ED25519 (an existing Ed448 CA still signs the Ed25519 online certificate)");
  throw new UsageError(`--sign-algorithm: unknown algorithm ${JSON.stringify(alg)} (ED25519)`);
}

function country(opts: ParsedOptions, name: string): string | undefined {
  const v = stringOpt(opts, name);
  if (v === undefined) return undefined;
  if (!/^[A-Za-z]{2}$/.test(v)) throw new UsageError(`--${name}: Use ISO3166 2-letter code for ${name.replace(/-country$/, "")}`);
  return v.toUpperCase();
}

function webCert(opts: ParsedOptions): "self-signed" | undefined {
  const v = stringOpt(opts, "web-cert");
  if (v === undefined || v === "self-signed") return v;
  throw new UsageError(`--web-cert: expected "self-signed" (or put your own certificate in web.crt/web.key), got ${JSON.stringify(v)}`);
}

function initOptions(opts: ParsedOptions, DEFAULT_INIT: InitOptions): InitOptions {
  signAlgorithm(opts);
  const pw = stringOpt(opts, "password");
  if (pw !== undefined && opts.has("no-password")) throw new UsageError("--password and --no-password cannot be used together");
  const password: PasswordChoice = opts.has("no-password") ? { kind: "none" } : pw !== undefined ? { kind: "set", value: pw } : { kind: "random" };
  const portsText = stringOpt(opts, "port");
  const ports = portsText?.split(",").map((p) => portOpt("port", p.trim()));
  if (ports && new Set(ports).size !== ports.length) throw new UsageError("--port: a port is listed twice");
  const cp = opts.get("control-port");
  const socks = opts.get("socks-proxy");
  const hostingType = stringOpt(opts, "hosting-type");
  if (hostingType !== undefined && !(HOSTING_TYPES as readonly string[]).includes(hostingType))
    throw new UsageError(`--hosting-type: expected one of ${HOSTING_TYPES.join(", ")}`);
  const own = stringOpt(opts, "own-domains");
  const o: InitOptions = {
    ...DEFAULT_INIT,
    ip: stringOpt(opts, "ip") ?? DEFAULT_INIT.ip,
    fqdn: stringOpt(opts, "fqdn"),
    ports,
    password,
    enableStoreLog: !opts.has("disable-store-log"),
    logStats: opts.has("daily-stats"),
    controlPort: cp === undefined ? undefined : cp === true ? 5224 : portOpt("control-port", cp),
    socksProxy: socks === undefined ? undefined : socks === true ? "127.0.0.1:9050" : socks,
    ownDomains: own?.split(",").map((d) => d.trim()).filter((d) => d !== ""),
    sourceCode: stringOpt(opts, "source-code"),
    serverCountry: country(opts, "server-country"),
    operator: stringOpt(opts, "operator"),
    operatorCountry: country(opts, "operator-country"),
    website: stringOpt(opts, "operator-website"),
    hosting: stringOpt(opts, "hosting"),
    hostingCountry: country(opts, "hosting-country"),
    hostingType: hostingType as HostingType | undefined,
    webPath: stringOpt(opts, "web-path"),
    disableWeb: opts.has("disable-web") ? true : undefined,
    webCert: webCert(opts),
  };
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as unknown as InitOptions;
}

function positiveInt(opts: ParsedOptions, name: string): number | undefined {
  const v = stringOpt(opts, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 86400) throw new UsageError(`--${name}: expected a whole number from 1 to 86400, got ${JSON.stringify(v)}`);
  return Number(v);
}

function roleOpt(opts: ParsedOptions): ControlRole | undefined {
  const r = stringOpt(opts, "role");
  if (r === undefined || r === "admin" || r === "user") return r;
  throw new UsageError(`--role: expected admin or user, got ${JSON.stringify(r)}`);
}

/** Index of the first argument that is neither an option nor an option's value. */
function commandStart(args: readonly string[], specs: readonly OptionSpec[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("-")) return i;
    const spec = specs.find((s) => `--${s.name}` === a || (s.short !== undefined && `-${s.short}` === a));
    if (spec !== undefined && spec.kind === "value") i++;
  }
  return args.length;
}

/** `import --database URI [--schema S]` (Server/CLI.hs:dbOptsP's names). */
function importDatabase(opts: ParsedOptions): PostgresTarget | undefined {
  const uri = stringOpt(opts, "database");
  const schema = stringOpt(opts, "schema");
  if (uri === undefined) {
    if (schema !== undefined) throw new UsageError("--schema needs --database");
    return undefined;
  }
  return { uri, schema: schema ?? DEFAULT_DB_SCHEMA };
}

export interface MainContext {
  pathEnv: PathEnv;
  stdinIsTTY: boolean;
  /** `start` draws the address's QR code only for a person at a terminal (start.ts:addressQr). */
  stdoutIsTTY?: boolean;
  /** Shows a question and reads the operator's answer (`start` migrations); absent: no answer. */
  ask?: (question: string) => boolean;
  out: Out;
  err: Out;
}

/** Agent/Store/Migrations.hs:confirmOrExit — only "y" (any case) confirms; end of input does not. */
function askOnStdin(question: string): boolean {
  console.log(question);
  return prompt("Continue (y/N):")?.toLowerCase() === "y";
}

function defaultContext(): MainContext {
  return {
    pathEnv: currentPathEnv(),
    stdinIsTTY: process.stdin.isTTY === true,
    stdoutIsTTY: process.stdout.isTTY === true,
    ask: askOnStdin,
    out: (l) => console.log(l),
    err: (l) => console.error(l),
  };
}

/** Runs one command; resolves to the exit code, or undefined while `start` keeps the server running. */
export async function main(argv: readonly string[], ctx: MainContext = defaultContext()): Promise<number | undefined> {
  const [verb, ...rest] = argv;
  const { out, err } = ctx;
  if (verb === "-v" || verb === "--version") {
    out(versionText());
    return 0;
  }
  if (verb === undefined || verb === "-h" || verb === "--help" || !(verb in VERBS)) {
    const text = mainHelp(resolvePaths({}, ctx.pathEnv));
    if (verb === undefined || verb === "-h" || verb === "--help") {
      out(text);
      return verb === undefined ? 1 : 0;
    }
    err(`Invalid command: ${verb}\n\n${text}`);
    return 1;
  }
  try {
    // The reference's unit file passes GHC runtime options (`start +RTS -N -RTS`); the GHC runtime
    // takes them out of any command line.
    const { args: cmdline, rts } = splitRtsOptions(rest);
    // `control` ends its options at the first word of the command it sends; `database` takes
    // its sub-command first (Server/Main.hs: `database import|export`).
    const sub = verb === "database" && cmdline[0] !== undefined && !cmdline[0].startsWith("-") ? cmdline[0] : undefined;
    const args = sub === undefined ? cmdline : cmdline.slice(1);
    const split = verb === "control" ? commandStart(args, VERBS[verb].specs) : args.length;
    // `backup FILE`: the one word that is neither an option nor an option's value, wherever it is.
    const file = verb === "backup" ? commandStart(args, VERBS[verb].specs) : args.length;
    const opts = parseOptions([...args.slice(0, Math.min(split, file)), ...args.slice(file + 1)], VERBS[verb].specs);
    const paths = resolvePaths({ configDir: stringOpt(opts, "config-dir"), dataDir: stringOpt(opts, "data-dir") }, ctx.pathEnv);
    if (opts.has("help")) {
      out(verbHelp(verb, paths));
      return 0;
    }
    switch (verb) {
      case "init": {
        // Loaded here: init.ts holds the server's code (a new database), which `start --nodes`'s
        // supervisor and the other verbs do not need.
        const init = await import("./init.ts");
        init.initialize(paths, initOptions(opts, init.DEFAULT_INIT), ctx.pathEnv.isRoot, out);
        return 0;
      }
      case "cert": {
        signAlgorithm(opts);
        // No smp-server.toml needed: this also runs where an offline CA key lives (see README).
        const caKey = stringOpt(opts, "ca-key");
        const { files } = regenerateServerCert(paths.configDir, stringOpt(opts, "cn"), { caKey, caCert: stringOpt(opts, "ca-cert") });
        out(`Generated new server credentials: ${files.crt}, ${files.key}`);
        if (caKey === undefined) (await import("./init.ts")).warnCAPrivateKeyFile(paths, out);
        return 0;
      }
      case "start": {
        const level = stringOpt(opts, "log-level") ?? "info";
        if (!isLogLevel(level)) throw new UsageError(`--log-level: Invalid log level ${JSON.stringify(level)} (${LOG_LEVELS.join(", ")})`);
        const flags = referenceStartFlags(opts);
        setLogLevel(level as LogLevel);
        logIgnoredStartOptions(rts, flags);
        const nodesText = stringOpt(opts, "nodes");
        const nodes = nodesText === undefined ? undefined : nodesOption(nodesText);
        let config: SmpConfig | undefined;
        if (!flags.maintenance) {
          // Several nodes: this process only supervises them (supervisor.ts), so the server's
          // code is not even loaded here.
          const supervisor = await import("./supervisor.ts");
          const plan = supervisor.nodesToSupervise(paths, nodes);
          if (plan.count > 1) {
            await supervisor.supervise(argv, plan.count);
            return undefined;
          }
          config = plan.config;
        }
        const server = await (await import("./start.ts")).start(
          paths,
          {
            logLevel: level as LogLevel,
            isRoot: ctx.pathEnv.isRoot,
            createStore: opts.has("create-store"),
            maintenance: flags.maintenance,
            migrations: { confirm: flags.migrations, ask: ctx.ask },
            ...(nodes !== undefined && { nodes }),
            ...(config !== undefined && { config }),
            stdoutIsTTY: ctx.stdoutIsTTY === true,
          },
          out,
        );
        return server === undefined ? 0 : undefined;
      }
      case "delete":
        await (await import("./delete.ts")).deleteServer(paths, { yes: opts.has("yes"), stdinIsTTY: ctx.stdinIsTTY }, out);
        return 0;
      case "control": {
        const words = args.slice(split);
        if (words.length === 0) throw new UsageError("a control port command is required (e.g. stats, help)");
        return await (await import("./control.ts")).runControl(paths, words.join(" "), roleOpt(opts), out, positiveInt(opts, "node") ?? 1);
      }
      case "import":
        await (await import("./import/run.ts")).runImport(
          paths,
          {
            fromConfigDir: stringOpt(opts, "from-config-dir") ?? REFERENCE_CONFIG_DIR,
            fromDataDir: stringOpt(opts, "from-data-dir") ?? REFERENCE_DATA_DIR,
            dryRun: opts.has("dry-run"),
            skipWarnings: opts.has("skip-warnings"),
            database: importDatabase(opts),
          },
          out,
        );
        return 0;
      case "export":
        await (await import("./export.ts")).exportStore(paths, stringOpt(opts, "to-dir") ?? paths.dataDir, out);
        return 0;
      case "backup":
        if (file >= args.length) throw new UsageError("backup needs the FILE to write");
        (await import("./backup.ts")).backupDatabase(paths, args[file]!, out);
        return 0;
      case "stats": {
        const watch = positiveInt(opts, "watch");
        const count = positiveInt(opts, "count");
        if (count !== undefined && watch === undefined) throw new UsageError("--count needs --watch");
        return await (await import("./control.ts")).printStats(paths, roleOpt(opts), out, { ...(watch !== undefined && { watchSeconds: watch }), ...(count !== undefined && { count }) }, positiveInt(opts, "node") ?? 1);
      }
      case "database":
        if (sub !== "import" && sub !== "export") throw new UsageError(`expected \`database import\` or \`database export\`, got ${sub === undefined ? "nothing" : JSON.stringify(sub)}`);
        await (await import("./database.ts")).database(sub, paths, out);
        return 0;
    }
    return 1;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`Error: ${e.message}\nRun \`${EXE} ${verb} --help\` for the available options.`);
      return 1;
    }
    if (e instanceof ConfigError) {
      err(`Error in configuration: ${e.message}`);
      return 1;
    }
    if (e instanceof CliError) {
      err(e.message);
      return e.exitCode;
    }
    if (e instanceof CertFileError || e instanceof CertificateError) {
      err(`Error: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exitCode = code;
    },
    (e) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
      process.exitCode = 70; // EX_SOFTWARE: a bug, not bad input
    },
  );
}
