/**
 * A TOML basic string for the configuration files we write (`init`, `import`). JSON's string
 * escapes are all valid TOML; DEL is the one control character JSON leaves bare and TOML forbids.
 */
export function tomlString(s: string): string {
  return JSON.stringify(s).replace(/\x7f/g, "\\u007F");
}
