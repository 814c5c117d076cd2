/**
 * The name record (Names/Record.hs:NameRecord, aeson TH with `omitNothingFields = False`, prefix "nr" dropped):
 * decoded from the resolver's body the way aeson's FromJSON would accept it, and re-encoded byte-for-byte as
 * `J.encode` writes it for RNAME (Protocol.hs: `RNAME rec -> Tail (J.encode rec)`).
 *
 * Conventions: text fields use "" for unset, link fields are arrays (empty when unset), coin fields are a
 * string or null (absent accepted on parse, written as null). Unknown fields are ignored on parse and dropped.
 */

export interface NameRecord {
  name: string;
  nickname: string;
  website: string;
  location: string;
  simplexContact: string[];
  simplexChannel: string[];
  eth: string | null;
  btc: string | null;
  xmr: string | null;
  dot: string | null;
  owner: string;
  resolver: string;
}

/** Field order of the Haskell record = aeson's output order. */
const FIELDS = [
  ["name", "text"],
  ["nickname", "text"],
  ["website", "text"],
  ["location", "text"],
  ["simplexContact", "links"],
  ["simplexChannel", "links"],
  ["eth", "coin"],
  ["btc", "coin"],
  ["xmr", "coin"],
  ["dot", "coin"],
  ["owner", "text"],
  ["resolver", "text"],
] as const satisfies readonly (readonly [keyof NameRecord, "text" | "links" | "coin"])[];

/** aeson rejects a UTF-8 BOM and invalid UTF-8, so keep the BOM for JSON.parse to refuse. */
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Text cannot hold a lone surrogate; JSON.parse would let "\ud800" through. */
function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff) return false;
    const next = s.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

function isText(v: unknown): v is string {
  return typeof v === "string" && isWellFormed(v);
}

/** The record, or why the body is not one (the reason is for logs only; clients see "invalid response"). */
export function decodeNameRecord(body: Uint8Array): NameRecord | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(utf8Strict.decode(body));
  } catch (e) {
    return { error: e instanceof SyntaxError ? "not JSON" : "not UTF-8" };
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return { error: "expected a JSON object" };
  const obj = doc as Record<string, unknown>;
  const rec: Record<string, unknown> = {};
  for (const [key, kind] of FIELDS) {
    const present = Object.hasOwn(obj, key);
    const v = present ? obj[key] : undefined;
    if (kind === "text") {
      if (!isText(v)) return { error: `field ${key}: expected a string` };
      rec[key] = v;
    } else if (kind === "links") {
      if (!Array.isArray(v) || !v.every(isText)) return { error: `field ${key}: expected an array of strings` };
      rec[key] = [...v];
    } else {
      // Maybe Text: absent or null = Nothing (aeson 2.2 allowOmittedFields).
      if (v === undefined || v === null) rec[key] = null;
      else if (isText(v)) rec[key] = v;
      else return { error: `field ${key}: expected a string or null` };
    }
  }
  return rec as unknown as NameRecord;
}

/** aeson's string escaping (Data.Aeson.Encoding.Builder:escapeAscii): only ", \ and controls; \u00xx lower-case. */
function jsonString(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(from, i);
    from = i + 1;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else out += "\\u" + c.toString(16).padStart(4, "0");
  }
  return out + s.slice(from) + '"';
}

/** `J.encode rec`: compact, fields in record order, null coins written out. */
export function encodeNameRecord(rec: NameRecord): Uint8Array {
  let out = "{";
  for (let i = 0; i < FIELDS.length; i++) {
    const [key, kind] = FIELDS[i]!;
    if (i > 0) out += ",";
    out += jsonString(key) + ":";
    const v = rec[key];
    if (kind === "links") out += "[" + (v as string[]).map(jsonString).join(",") + "]";
    else out += v === null ? "null" : jsonString(v as string);
  }
  return new TextEncoder().encode(out + "}");
}
