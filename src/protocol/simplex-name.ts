/**
 * The RSLV name token (SimplexName.hs:StrEncoding SimplexNameDomain): 1..253 non-whitespace bytes, labels of
 * ASCII letters/digits joined by single hyphens (≤ 63 bytes each), at least two labels. The canonical form
 * (what is re-encoded and sent to the resolver) is the lower-cased full name (SimplexName.hs:fullDomainName).
 */
import { Reader, ParseError } from "../encoding/reader.ts";

const MAX_NAME = 253;
const MAX_LABEL = 63;

/** attoparsec Char8 `isSpace`: SP and \t..\r. */
function isSpaceByte(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

function isAlnum(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
}

/** Reads the name token (stops before whitespace) and returns its canonical lower-case form. */
export function parseSimplexNameDomain(r: Reader): string {
  const start = r.pos;
  let i = start;
  // boundedNonSpace scans at most 254 bytes, then rejects > 253.
  while (i < r.end && i - start <= MAX_NAME && !isSpaceByte(r.buf[i]!)) i++;
  const len = i - start;
  if (len === 0) throw new ParseError("expected non-empty name token");
  if (len > MAX_NAME) throw new ParseError("name exceeds 253 bytes");
  const b = r.buf;
  let labels = 0;
  let labelLen = 0;
  let prev = 0x2e; // as if after a '.', so a leading '.' or '-' fails
  let out = "";
  for (let j = start; j < i; j++) {
    const c = b[j]!;
    if (isAlnum(c)) {
      labelLen++;
      out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 32 : c);
    } else if (c === 0x2d) {
      if (!isAlnum(prev)) throw new ParseError("bad name label");
      labelLen++;
      out += "-";
    } else if (c === 0x2e) {
      if (!isAlnum(prev)) throw new ParseError("bad name label");
      labels++;
      labelLen = 0;
      out += ".";
    } else throw new ParseError("bad name character");
    if (labelLen > MAX_LABEL) throw new ParseError("name label exceeds 63 bytes");
    prev = c;
  }
  if (!isAlnum(prev)) throw new ParseError("bad name label");
  labels++;
  if (labels < 2) throw new ParseError("domain requires TLD");
  r.pos = i;
  return out;
}
