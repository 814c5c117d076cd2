/**
 * Whether pending schema migrations may run (Agent/Store/Shared.hs:`MigrationConfirmation`,
 * applied as Agent/Store/Migrations.hs:`sharedMigrateSchema`): a new database is always brought
 * to the latest version; an existing one is upgraded only as confirmed. "console" asks the
 * operator through `ask` (the CLI's prompt), and without an answer the start stops untouched.
 */
import { StoreError } from "./types.ts";

export type MigrationConfirmation = "yesUp" | "yesUpDown" | "console" | "error";

export interface MigrationPolicy {
  readonly confirm: MigrationConfirmation;
  /** For "console": shows the question, true when the operator confirmed. */
  readonly ask?: (question: string) => boolean;
}

/** Stores opened by tools and tests upgrade without asking, as the reference's import (`MCYesUp`). */
export const YES_UP: MigrationPolicy = { confirm: "yesUp" };

/**
 * Throws `StoreError("schema")` unless `policy` lets the up-migrations `names` run on an existing
 * database (`what` names it). Migrations.hs: MCYesUp and MCYesUpDown run them, MCConsole asks,
 * MCError refuses.
 */
export function confirmUpgrade(policy: MigrationPolicy, what: string, names: readonly string[]): void {
  if (policy.confirm === "yesUp" || policy.confirm === "yesUpDown") return;
  const list = names.join(", ");
  // Migrations.hs:migrationErrorDescription (MEUpgrade)
  if (policy.confirm === "console" && policy.ask?.(`The app has a newer version than the database.\nConfirm to upgrade using these migrations: ${list}`) === true) return;
  throw new StoreError(
    "schema",
    `${what} needs these migrations: ${list}; they were not confirmed, nothing was changed. ` +
      "Back up the database, then start with --confirm-migrations up",
  );
}

/**
 * A database newer than this server: the reference downgrades it only with the down-migrations
 * recorded in the database and `--confirm-migrations down` (MTRDown + MCYesUpDown). No migration
 * of this server has a down-migration yet, so every newer database is refused untouched
 * (Migrations.hs:migrationsToRun `MTRENoDown`).
 */
export function newerSchemaError(what: string, from: number, latest: number): StoreError {
  return new StoreError(
    "schema",
    `${what} version ${from} is newer than this server supports (${latest}) and has no down-migrations known to it; ` +
      "run the newer smp-server version that created it, or restore a backup",
  );
}
