/**
 * Command-line options: `--name value`, `--name=value`, `-x value`, flags, and options whose value
 * is optional (`--control-port` alone means the default port, as in the reference's optparse
 * `flag' … <|> option …` pairs).
 */

export class UsageError extends Error {
  override name = "UsageError";
}

export interface OptionSpec {
  name: string;
  short?: string;
  /** flag: no value; value: requires one; optional: takes the next argument unless it starts with "-". */
  kind: "flag" | "value" | "optional";
  metavar?: string;
  help: string;
}

export type ParsedOptions = Map<string, string | true>;

export function parseOptions(argv: readonly string[], specs: readonly OptionSpec[]): ParsedOptions {
  const out: ParsedOptions = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      spec = specs.find((s) => s.name === name);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      spec = specs.find((s) => s.short === arg.slice(1));
    } else {
      throw new UsageError(`unexpected argument: ${arg}`);
    }
    if (spec === undefined) throw new UsageError(`unknown option: ${arg}`);
    if (spec.kind === "flag") {
      if (inline !== undefined) throw new UsageError(`option --${spec.name} takes no value`);
      out.set(spec.name, true);
    } else if (inline !== undefined) {
      out.set(spec.name, inline);
    } else {
      const next = argv[i + 1];
      if (next !== undefined && !(spec.kind === "optional" && next.startsWith("-"))) {
        out.set(spec.name, next);
        i++;
      } else if (spec.kind === "optional") out.set(spec.name, true);
      else throw new UsageError(`option --${spec.name} requires a value${spec.metavar ? ` (${spec.metavar})` : ""}`);
    }
  }
  return out;
}

export function optionsHelp(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => {
    const value = s.kind === "value" ? ` ${s.metavar ?? "VALUE"}` : s.kind === "optional" ? ` [${s.metavar ?? "VALUE"}]` : "";
    return [`${s.short ? `-${s.short}, ` : "    "}--${s.name}${value}`, s.help] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`).join("\n");
}

export function stringOpt(opts: ParsedOptions, name: string): string | undefined {
  const v = opts.get(name);
  if (v === true) throw new UsageError(`option --${name} requires a value`);
  return v;
}

export function portOpt(name: string, v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new UsageError(`--${name}: invalid port ${JSON.stringify(v)} (1..65535)`);
  return Number(v);
}
