// A strict parser of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), written for the tests: it
// rejects what Prometheus's own parser rejects that matters here — bad names, bad label syntax or
// escapes, unparsable values, a TYPE after its family's samples or twice, a sample whose family
// is declared with another type, histogram samples without `le`, and duplicate series.
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs: number | null;
}

export interface PromFamily {
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help: string | null;
  readonly samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export class PromParseError extends Error {
  constructor(line: number, msg: string) {
    super(`line ${line}: ${msg}`);
  }
}

function unescape(s: string, allowQuote: boolean, line: number): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const n = s[++i];
    if (n === "\\") out += "\\";
    else if (n === "n") out += "\n";
    else if (n === '"' && allowQuote) out += '"';
    else throw new PromParseError(line, `bad escape \\${n ?? ""}`);
  }
  return out;
}

function parseValue(s: string, line: number): number {
  if (s === "+Inf" || s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) throw new PromParseError(line, `bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** The family a sample belongs to: histogram/summary suffixes map to their declared base name. */
function familyOf(name: string, families: Map<string, PromFamily>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const f = families.get(base);
    if (f !== undefined && (f.type === "histogram" || f.type === "summary")) return base;
  }
  return name;
}

export function parsePrometheus(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  const lines = text.split("\n");
  const family = (name: string) => {
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { type: "untyped", help: null, samples: [] }));
    return f;
  };
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (m === null) return; // a comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name!) || NAME.exec(name!)![0] !== name) throw new PromParseError(n, `bad metric name ${name}`);
      const f = family(name!);
      if (kind === "HELP") {
        if (f.help !== null) throw new PromParseError(n, `second HELP for ${name}`);
        f.help = unescape(rest ?? "", false, n);
      } else {
        if (!TYPES.has(rest ?? "")) throw new PromParseError(n, `bad type ${rest}`);
        if (f.samples.length > 0) throw new PromParseError(n, `TYPE for ${name} after its samples`);
        if (f.type !== "untyped") throw new PromParseError(n, `second TYPE for ${name}`);
        f.type = rest as PromFamily["type"];
      }
      return;
    }
    const nm = NAME.exec(line);
    if (nm === null) throw new PromParseError(n, "expected a metric name");
    const name = nm[0];
    let pos = name.length;
    const labels: Record<string, string> = {};
    if (line[pos] === "{") {
      pos++;
      for (;;) {
        while (line[pos] === " ") pos++;
        if (line[pos] === "}") {
          pos++;
          break;
        }
        const lm = LABEL.exec(line.slice(pos));
        if (lm === null) throw new PromParseError(n, "bad label name");
        pos += lm[0].length;
        if (line[pos] !== "=" || line[pos + 1] !== '"') throw new PromParseError(n, "expected =\"");
        pos += 2;
        let end = pos;
        while (end < line.length && line[end] !== '"') end += line[end] === "\\" ? 2 : 1;
        if (end >= line.length) throw new PromParseError(n, "unterminated label value");
        if (lm[0] in labels) throw new PromParseError(n, `label ${lm[0]} twice`);
        labels[lm[0]] = unescape(line.slice(pos, end), true, n);
        pos = end + 1;
        if (line[pos] === ",") pos++;
        else if (line[pos] !== "}") throw new PromParseError(n, "expected , or }");
      }
    }
    const parts = line.slice(pos).trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === "") throw new PromParseError(n, "expected value [timestamp]");
    const value = parseValue(parts[0]!, n);
    let timestampMs: number | null = null;
    if (parts.length === 2) {
      if (!/^-?\d+$/.test(parts[1]!)) throw new PromParseError(n, `bad timestamp ${parts[1]}`);
      timestampMs = Number(parts[1]);
    }
    const fname = familyOf(name, families);
    const f = family(fname);
    if (f.type === "histogram" && name === `${fname}_bucket` && !("le" in labels)) throw new PromParseError(n, "histogram bucket without le");
    if ((f.type === "counter" || f.type === "gauge") && fname !== name) throw new PromParseError(n, `sample ${name} in ${f.type} ${fname}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new PromParseError(n, `duplicate series ${key}`);
    seen.add(key);
    f.samples.push({ name, labels, value, timestampMs });
  });
  return families;
}

/** The value of one series, by name and exact labels. */
export function sample(fams: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  for (const f of fams.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const ks = Object.keys(s.labels);
      if (ks.length === Object.keys(labels).length && ks.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
}
