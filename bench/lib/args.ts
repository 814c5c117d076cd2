/** Command-line options of the bench scripts: `--name value` pairs and bare `--flag`s. */
const argv = process.argv.slice(2);

/** The value after `--name`, or `def` when the option is absent. */
export function stringArg(name: string, def: string): string {
  const i = argv.indexOf("--" + name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : def;
}

export const numberArg = (name: string, def: number): number => Number(stringArg(name, String(def)));

export const flag = (name: string): boolean => argv.includes("--" + name);
