/**
 * Typed, strict reading of one TOML section. Every accessor records the key it consumed so that
 * `finish()` can reject anything left over: a misspelt key must fail loudly, not be ignored the way
 * the reference's INI lookups ignore it.
 */

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly file: string,
    /** `[SECTION] key`, `[SECTION]`, or undefined for file-level problems. */
    readonly where: string | undefined,
    readonly reason: string,
  ) {
    super(`${file}: ${where === undefined ? "" : where + ": "}${reason}`);
  }
}

export type Table = Record<string, unknown>;

export function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

export function describe(v: unknown): string {
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (typeof v === "number") return Number.isInteger(v) ? `integer ${v}` : `float ${v}`;
  if (typeof v === "boolean") return `boolean ${v}`;
  if (Array.isArray(v)) return "array";
  if (isTable(v)) return "table";
  return "date";
}

export class SectionReader {
  private readonly used = new Set<string>();

  constructor(
    readonly file: string,
    readonly name: string,
    private readonly table: Table,
  ) {}

  fail(key: string, reason: string): never {
    throw new ConfigError(this.file, `[${this.name}] ${key}`, reason);
  }

  has(key: string): boolean {
    return Object.hasOwn(this.table, key);
  }

  /** The raw value, marking the key as known. */
  raw(key: string): unknown {
    this.used.add(key);
    return this.has(key) ? this.table[key] : undefined;
  }

  /** TOML booleans; "on"/"off" strings too, because every reference INI uses them. */
  bool(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (typeof v === "boolean") return v;
    if (v === "on") return true;
    if (v === "off") return false;
    return this.fail(key, `expected true/false (or "on"/"off"), got ${describe(v)}`);
  }

  optInt(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isSafeInteger(v)) return this.fail(key, `expected an integer, got ${describe(v)}`);
    if (v < min || v > max) return this.fail(key, rangeReason(v, min, max));
    return v;
  }

  int(key: string, def: number, min: number, max: number): number {
    return this.optInt(key, min, max) ?? def;
  }

  requiredInt(key: string, min: number, max: number, when: string): number {
    const v = this.optInt(key, min, max);
    return v === undefined ? this.fail(key, `required ${when}`) : v;
  }

  optString(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") return this.fail(key, `expected a string, got ${describe(v)}`);
    if (v.trim() === "") return this.fail(key, "must not be empty (remove the key instead)");
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[], def: T): T {
    return this.optOneOf(key, values) ?? def;
  }

  optOneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as T;
    return this.fail(key, `expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}, got ${describe(v)}`);
  }

  /** A key the reference has but this server refuses, with the reason why. */
  rejectIfPresent(key: string, reason: string): void {
    if (this.raw(key) !== undefined) this.fail(key, reason);
  }

  /** Rejects keys no accessor asked for. Call after reading the whole section. */
  finish(): void {
    for (const key of Object.keys(this.table)) {
      if (!this.used.has(key)) {
        const known = [...this.used].sort().join(", ");
        this.fail(key, `unknown key (known keys in [${this.name}]: ${known})`);
      }
    }
  }
}

export function rangeReason(v: number, min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return `must be at least ${min}, got ${v}`;
  return `must be between ${min} and ${max}, got ${v}`;
}
