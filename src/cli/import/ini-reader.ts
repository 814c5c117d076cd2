/**
 * The reference's INI reader (the `ini` package, 0.4.1, as Server/Main.hs uses it through
 * `readIniFile`/`lookupValue`), reproduced rule for rule so that a converted file means what the
 * reference made of it — not what a generic INI parser would:
 * - `key = value` and `key: value`; after `:` one character is dropped before trimming
 *   (`enable: off` → `off`, `enable:off` → `ff`);
 * - comments are whole lines starting with `#` or `;` (after blank space); there are no inline
 *   comments, so `port = 5223 # x` has the value `5223 # x`;
 * - a key runs to the first `=` or `:` and may span lines (a line without a separator glues
 *   itself to the next key, which then matches nothing);
 * - within a section the first occurrence of a key wins (`lookup`); of two sections with the same
 *   name, the last wins (`HashMap.fromList`);
 * - keys before the first section are globals, which the server never looks up;
 * - at the first text that is neither a key line nor a section header, reading stops silently
 *   (`parseOnly` without `endOfInput`): the rest of the file is not part of the configuration.
 */

export interface IniEntry {
  key: string;
  value: string;
  /** 1-based line of the key's first character. */
  line: number;
}

export interface IniSection {
  name: string;
  line: number;
  /** Every entry in file order, duplicates included. */
  entries: IniEntry[];
}

export interface ParsedIni {
  globals: IniEntry[];
  /** Every section header in file order (duplicates included). */
  sections: IniSection[];
  /** Where reading stopped before the end of the file, with that line's text. */
  stoppedAt?: { line: number; text: string };
}

/** Haskell's Data.Char.isSpace: the ASCII blanks, NBSP and the Unicode space separators (Zs). */
const SPACE = /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/;
const isSpace = (c: string | undefined): boolean => c !== undefined && SPACE.test(c);
const isEol = (c: string | undefined): boolean => c === "\n" || c === "\r";

function strip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isSpace(s[a])) a++;
  while (b > a && isSpace(s[b - 1])) b--;
  return s.slice(a, b);
}

export function parseIni(text: string): ParsedIni {
  let i = 0;
  const lineStarts: number[] = [0];
  for (let k = 0; k < text.length; k++) if (text[k] === "\n") lineStarts.push(k + 1);
  const lineOf = (pos: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const skipSpace = () => {
    while (i < text.length && isSpace(text[i])) i++;
  };
  const skipComments = () => {
    while (text[i] === "#" || text[i] === ";") {
      while (i < text.length && !isEol(text[i])) i++;
      skipSpace();
    }
  };
  const keyValue = (): IniEntry | undefined => {
    const save = i;
    skipSpace();
    skipComments();
    skipSpace();
    const start = i;
    while (i < text.length && !"=:[]".includes(text[i])) i++;
    const delim = text[i];
    if (i === start || (delim !== "=" && delim !== ":")) {
      i = save;
      return undefined;
    }
    const key = text.slice(start, i);
    i++;
    const vStart = i;
    while (i < text.length && !isEol(text[i])) i++;
    let value = text.slice(vStart, i);
    if (delim === ":") value = value.slice(1);
    skipSpace();
    return { key: strip(key), value: strip(value), line: lineOf(start) };
  };
  const section = (): IniSection | undefined => {
    const save = i;
    skipSpace();
    skipComments();
    skipSpace();
    if (text[i] !== "[") {
      i = save;
      return undefined;
    }
    const start = i;
    i++;
    const nStart = i;
    while (i < text.length && text[i] !== "]" && text[i] !== "[") i++;
    if (text[i] !== "]") {
      i = save;
      return undefined;
    }
    const name = strip(text.slice(nStart, i));
    i++;
    skipSpace();
    const entries: IniEntry[] = [];
    for (let e = keyValue(); e !== undefined; e = keyValue()) entries.push(e);
    return { name, line: lineOf(start), entries };
  };

  const globals: IniEntry[] = [];
  for (let e = keyValue(); e !== undefined; e = keyValue()) globals.push(e);
  const sections: IniSection[] = [];
  for (let s = section(); s !== undefined; s = section()) sections.push(s);
  skipSpace();
  skipComments();
  if (i >= text.length) return { globals, sections };
  const line = lineOf(i);
  const end = text.indexOf("\n", lineStarts[line - 1]);
  return { globals, sections, stoppedAt: { line, text: text.slice(lineStarts[line - 1], end < 0 ? undefined : end).replace(/\r$/, "") } };
}

/** What `lookupValue section key` sees: the last section of that name, the first entry of that key. */
export function effectiveSections(ini: ParsedIni): Map<string, IniSection> {
  const m = new Map<string, IniSection>();
  for (const s of ini.sections) m.set(s.name, s);
  return m;
}
