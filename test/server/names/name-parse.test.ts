// tests/SMPNamesTests.hs:parseNameSpec against the RSLV name parser the names role receives its input from
// (SimplexName.hs:StrEncoding SimplexNameDomain); the canonical string is what GET /resolve/<name> carries.
import { describe, expect, test } from "bun:test";
import { Reader } from "../../../src/encoding/reader.ts";
import { parseSimplexNameDomain } from "../../../src/protocol/simplex-name.ts";

const parse = (s: string): string | undefined => {
  try {
    return parseSimplexNameDomain(new Reader(new TextEncoder().encode(s)));
  } catch {
    return undefined;
  }
};

describe("parseNameSpec (tests/SMPNamesTests.hs)", () => {
  test("accepts a valid simplex-TLD name", () => expect(parse("privacy.simplex")).toBe("privacy.simplex"));
  test("normalises case across labels (Alice.SIMPLEX = alice.simplex)", () => expect(parse("Alice.SIMPLEX")).toBe(parse("alice.simplex")!));
  test("accepts a testing-TLD name", () => expect(parse("bob.testing")).toBe("bob.testing"));
  test("accepts a TLDWeb name (forwarded to the resolver, which will likely 404/400)", () => expect(parse("example.com")).toBe("example.com"));
  test("rejects a bare (no-TLD) name", () => expect(parse("privacy")).toBeUndefined());
  test("rejects non-ASCII labels (homograph attacks)", () => expect(parse("\u0430lice.simplex")).toBeUndefined());
  test("rejects oversized inputs (>253 bytes)", () => expect(parse("a".repeat(254) + ".simplex")).toBeUndefined());
  test("rejects a label longer than 63 bytes (DNS label limit)", () => expect(parse("a".repeat(64) + ".simplex")).toBeUndefined());
  test("accepts a label of exactly 63 bytes", () => expect(parse("a".repeat(63) + ".simplex")).toBe("a".repeat(63) + ".simplex"));
  test("the token ends at the first whitespace", () => expect(parse("Privacy.Simplex\tjunk")).toBe("privacy.simplex"));
});
