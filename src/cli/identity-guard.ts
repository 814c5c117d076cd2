/**
 * Initializing writes a new CA, i.e. a new server identity: every queue address given out before
 * stops working. So `init` and the zero-config `start` only initialize a configuration directory
 * that holds none of the files of a server identity — ours or a reference installation's.
 * `delete` stays the only verb that removes keys.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "./errors.ts";
import { CONFIG_FILE, FILES, type Paths } from "./paths.ts";

/** The reference's configuration file (Server/Main.hs:iniFile). */
export const REFERENCE_INI = "smp-server.ini";

/** The reference's default directories (apps/smp-server/Main.hs), where `import` looks by default. */
export { SYSTEM_CONFIG_DIR as REFERENCE_CONFIG_DIR, SYSTEM_DATA_DIR as REFERENCE_DATA_DIR } from "./paths.ts";

/** Any one of these means the directory belongs to a server (Server/CLI.hs:defaultX509Config names). */
export const IDENTITY_FILES = [CONFIG_FILE, REFERENCE_INI, FILES.caCrt, FILES.caKey, FILES.serverCrt, FILES.serverKey, FILES.fingerprint] as const;

export function identityFilesIn(configDir: string): string[] {
  return IDENTITY_FILES.filter((f) => existsSync(join(configDir, f)));
}

/** Throws, naming the files found and what to do, unless the configuration directory can be initialized safely. */
export function refuseToReinitialize(paths: Paths, verb: "init" | "start"): void {
  const { configDir, dataDir } = paths;
  const found = identityFilesIn(configDir);
  if (found.length === 0) return;
  if (found.includes(CONFIG_FILE))
    throw new CliError(`Error: server is already initialized (${join(configDir, CONFIG_FILE)} exists).\nRun \`smp-server start\`.`);
  const lines = [
    `Error: ${configDir} holds ${found.join(", ")} but no ${CONFIG_FILE}.`,
    `Refusing to ${verb === "start" ? "initialize it on start" : "initialize it"}: that would replace this server identity (its fingerprint and address), and every queue with it. Nothing was changed.`,
  ];
  if (found.includes(REFERENCE_INI))
    lines.push(
      "This is a reference (simplexmq) server installation: carry it over in place (same identity and address, its queues and messages) with",
      `  smp-server import --from-config-dir ${configDir} --from-data-dir ${dataDir} --config-dir ${configDir} --data-dir ${dataDir}`,
      "(add --dry-run first to see what it would do), then `smp-server start`.",
      'See "Switching from the reference server" in README.md.',
    );
  else
    lines.push(
      `Restore ${join(configDir, CONFIG_FILE)} (a backup, or \`smp-server import\` from a reference installation), or, if this identity is no longer in use, remove it with \`smp-server delete\` and start again.`,
    );
  throw new CliError(lines.join("\n"));
}
