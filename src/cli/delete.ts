/**
 * `delete` (Server/Main.hs `Delete`): removes the configuration and data directories after
 * confirmation. Without a terminal to ask on, only `--yes` may confirm.
 */
import { existsSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { CliError, type Out } from "./errors.ts";
import { CONFIG_FILE, FILES, type Paths } from "./paths.ts";

const WARNING =
  "WARNING: deleting the server will make all queues inaccessible, because the server identity (certificate fingerprint) will change.\nTHIS CANNOT BE UNDONE!";

function checkDeletable(dir: string): void {
  const abs = resolve(dir);
  if (abs === "/" || abs === resolve(homedir())) throw new CliError(`Error: refusing to delete ${abs}`);
}

async function confirm(out: Out): Promise<boolean> {
  out(WARNING);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question("Continue (y/N): ");
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function deleteServer(paths: Paths, o: { yes: boolean; stdinIsTTY: boolean }, out: Out): Promise<void> {
  const cfgExists = existsSync(paths.configDir);
  // Only a directory that holds our files is removed wholesale: a mistyped --config-dir must not wipe an unrelated tree.
  if (cfgExists && ![CONFIG_FILE, FILES.caCrt, FILES.fingerprint].some((f) => existsSync(resolve(paths.configDir, f))))
    throw new CliError(`Error: ${paths.configDir} does not look like an smp-server configuration directory (no ${CONFIG_FILE}, ${FILES.caCrt} or ${FILES.fingerprint}); nothing deleted.`);
  checkDeletable(paths.configDir);
  checkDeletable(paths.dataDir);
  if (!o.yes) {
    if (!o.stdinIsTTY) throw new CliError("Error: refusing to delete without confirmation: stdin is not a terminal. Pass --yes to confirm.");
    if (!(await confirm(out))) throw new CliError("Server NOT deleted");
  }
  rmSync(paths.configDir, { recursive: true, force: true });
  rmSync(paths.dataDir, { recursive: true, force: true });
  out("Deleted configuration and log files");
}
