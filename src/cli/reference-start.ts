/**
 * What the reference's unit files and scripts pass to `start` (Server/CLI.hs:startOptionsP and the
 * GHC runtime's own `+RTS … -RTS`), given their nearest meaning here so that a unit file written for
 * the reference (`ExecStart=… start +RTS -N -RTS`) starts this server unchanged.
 */
import type { MigrationConfirmation } from "../store/migration-confirmation.ts";
import { log } from "../util/log.ts";
import type { OptionSpec, ParsedOptions } from "./args.ts";
import { UsageError, stringOpt } from "./args.ts";

/**
 * GHC's runtime takes its options out of the command line before the program sees it: from `+RTS`
 * to `-RTS` (or to the end), and nothing after `--RTS`. This runtime has no such options.
 */
export function splitRtsOptions(argv: readonly string[]): { args: string[]; rts: string[] } {
  const args: string[] = [];
  const rts: string[] = [];
  let inRts = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--RTS") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (a === "+RTS") inRts = true;
    else if (a === "-RTS") inRts = false;
    else if (inRts) rts.push(a);
    else args.push(a);
  }
  return { args, rts };
}

export const REFERENCE_START_OPTIONS: OptionSpec[] = [
  { name: "maintenance", short: "m", kind: "flag", help: "Open the database (applying migrations) and close it, print the start-up summary and exit without serving" },
  { name: "compact-log", kind: "flag", help: "Accepted for the reference's scripts; no effect (there is no store log to compact: the store is a SQLite database)" },
  { name: "skip-warnings", kind: "flag", help: "Accepted for the reference's scripts; no effect at start (see `import` for skipping a corrupt last line of a reference log)" },
  { name: "confirm-migrations", kind: "value", metavar: "up|down", help: "Confirm upgrading (up) or also downgrading (down) an existing database; default: ask on the terminal (a new database is created without asking)" },
];

export interface ReferenceStartFlags {
  maintenance: boolean;
  /** Server/CLI.hs:startOptionsP — `up` MCYesUp, `down` MCYesUpDown, absent MCConsole. */
  migrations: MigrationConfirmation;
  /** Options accepted without effect, for the debug log. */
  ignored: string[];
}

export function referenceStartFlags(opts: ParsedOptions): ReferenceStartFlags {
  const cm = stringOpt(opts, "confirm-migrations");
  // Server/CLI.hs:parseConfirmMigrations
  if (cm !== undefined && cm !== "up" && cm !== "down") throw new UsageError("--confirm-migrations: invalid migration confirmation, pass 'up' or 'down'");
  const ignored = ["compact-log", "skip-warnings"].filter((f) => opts.has(f)).map((f) => `--${f}`);
  const migrations = cm === "up" ? "yesUp" : cm === "down" ? "yesUpDown" : "console";
  return { maintenance: opts.has("maintenance"), migrations, ignored };
}

export function logIgnoredStartOptions(rts: readonly string[], flags: ReferenceStartFlags): void {
  if (rts.length > 0) log.debug(`ignoring GHC runtime options +RTS ${rts.join(" ")} -RTS (this server is not a GHC program)`);
  if (flags.ignored.length > 0) log.debug(`accepted without effect (reference start options): ${flags.ignored.join(", ")}`);
}
