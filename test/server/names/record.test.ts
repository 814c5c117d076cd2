// NameRecord JSON (Names/Record.hs; tests/SMPNamesTests.hs:nameRecordEncodingSpec) against the RNAME bytes the
// reference encoder produced (vectors/transmissions.json, broker message "RNAME").
import { describe, expect, test } from "bun:test";
import { decodeNameRecord, encodeNameRecord, type NameRecord } from "../../../src/server/names/record.ts";
import { hex, loadVectors } from "../../vectors.ts";
import { TEST_NAME_RECORD_JSON } from "./resolver-server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function decodeOk(s: string | Uint8Array): NameRecord {
  const r = decodeNameRecord(typeof s === "string" ? enc.encode(s) : s);
  if ("error" in r) throw new Error(r.error);
  return r;
}

function rnameVectorJson(): Uint8Array {
  const versions = loadVectors("transmissions.json").versions as { broker_messages: { name: string; message: string }[] }[];
  const v = versions[versions.length - 1]!.broker_messages.find((m) => m.name === "RNAME")!;
  const msg = hex(v.message);
  expect(dec.decode(msg.subarray(0, 6))).toBe("RNAME ");
  return msg.subarray(6);
}

describe("RNAME JSON matches the reference encoder", () => {
  test("a resolver body with shuffled keys, an unknown field and absent coins re-encodes to the vector bytes", () => {
    const ref = rnameVectorJson();
    const refObj = JSON.parse(dec.decode(ref)) as Record<string, unknown>;
    const shuffled: Record<string, unknown> = { extra: { nested: [1, 2] } };
    for (const k of Object.keys(refObj).reverse()) if (refObj[k] !== null) shuffled[k] = refObj[k];
    const body = " \n" + JSON.stringify(shuffled, null, 2) + "\n";
    expect(encodeNameRecord(decodeOk(body))).toEqual(ref);
  });
  test("round-trips encode / decode (nameRecordEncodingSpec)", () => {
    const rec = decodeOk(TEST_NAME_RECORD_JSON);
    expect(decodeOk(encodeNameRecord(rec))).toEqual(rec);
    expect(dec.decode(encodeNameRecord(rec))).toBe(TEST_NAME_RECORD_JSON);
  });
  test("emits keys in spec-documented order", () => {
    const s = dec.decode(encodeNameRecord(decodeOk(TEST_NAME_RECORD_JSON)));
    const keys = ["name", "nickname", "website", "location", "simplexContact", "simplexChannel", "eth", "btc", "xmr", "dot", "owner", "resolver"];
    const offsets = keys.map((k) => s.indexOf(`"${k}":`));
    expect(offsets.every((o) => o >= 0)).toBe(true);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
  });
  test("unset coin fields are null (not absent), unset link fields are [] (not null)", () => {
    const s = dec.decode(encodeNameRecord(decodeOk(TEST_NAME_RECORD_JSON)));
    for (const k of ["btc", "xmr", "dot"]) expect(s).toContain(`"${k}":null`);
    expect(s).toContain('"simplexChannel":[]');
    expect(s).not.toContain('"simplexChannel":null');
  });
  test("string escaping is aeson's (Data.Aeson.Encoding.Builder:escapeAscii): only \", \\ and controls; \\u00xx lower-case", () => {
    const rec = decodeOk(TEST_NAME_RECORD_JSON);
    rec.nickname = "a\"b\\c/d\b\f\u0001\u001f\n\r\t<>&\u007fé😀";
    const s = dec.decode(encodeNameRecord(rec));
    expect(s).toContain('"nickname":"a\\"b\\\\c/d\\u0008\\u000c\\u0001\\u001f\\n\\r\\t<>&\u007fé😀"');
    expect(decodeOk(encodeNameRecord(rec)).nickname).toBe(rec.nickname);
  });
  test("empty strings stay empty strings (the unset convention for text fields)", () => {
    const rec = decodeOk(TEST_NAME_RECORD_JSON.replace('"Alice"', '""').replace('"Earth"', '""'));
    expect(rec.nickname).toBe("");
    expect(dec.decode(encodeNameRecord(rec))).toContain('"nickname":"","website":"https://alice.example","location":""');
  });
});

describe("bodies aeson's FromJSON NameRecord refuses", () => {
  const without = (k: string) => {
    const o = JSON.parse(TEST_NAME_RECORD_JSON);
    delete o[k];
    return JSON.stringify(o);
  };
  const withValue = (k: string, v: unknown) => JSON.stringify({ ...JSON.parse(TEST_NAME_RECORD_JSON), [k]: v });
  const bad = (body: string | Uint8Array) => "error" in decodeNameRecord(typeof body === "string" ? enc.encode(body) : body);

  test("not JSON, wrong shape, empty object (resolverSpec: \"this is not json\", \"{}\")", () => {
    for (const b of ["this is not json", "{}", "", "[]", "null", '"x"', TEST_NAME_RECORD_JSON + "x"]) expect(bad(b)).toBe(true);
  });
  test("a missing or null text / link field; coins may be absent or null", () => {
    for (const k of ["name", "nickname", "website", "location", "simplexContact", "simplexChannel", "owner", "resolver"]) {
      expect(bad(without(k))).toBe(true);
      expect(bad(withValue(k, null))).toBe(true);
    }
    for (const k of ["eth", "btc", "xmr", "dot"]) {
      expect(decodeOk(without(k))[k as "eth"]).toBeNull();
      expect(decodeOk(withValue(k, null))[k as "eth"]).toBeNull();
      expect(bad(withValue(k, 1))).toBe(true);
      expect(bad(withValue(k, ["0x1"]))).toBe(true);
    }
  });
  test("wrong element types", () => {
    expect(bad(withValue("simplexContact", "simplex:/contact/abc"))).toBe(true);
    expect(bad(withValue("simplexContact", ["a", 1]))).toBe(true);
    expect(bad(withValue("nickname", 5))).toBe(true);
    expect(bad(withValue("owner", ["0x01"]))).toBe(true);
  });
  test("invalid UTF-8, a BOM, lone surrogates (Text cannot hold them)", () => {
    const body = enc.encode(TEST_NAME_RECORD_JSON);
    const i = body.indexOf(0x41); // 'A' of Alice
    const broken = body.slice();
    broken[i] = 0xff;
    expect(bad(broken)).toBe(true);
    expect(bad(new Uint8Array([0xef, 0xbb, 0xbf, ...body]))).toBe(true);
    expect(bad(TEST_NAME_RECORD_JSON.replace("Alice", "\\ud800"))).toBe(true);
    expect(bad(TEST_NAME_RECORD_JSON.replace("Alice", "\\udc00x"))).toBe(true);
    expect(decodeOk(TEST_NAME_RECORD_JSON.replace("Alice", "\\ud83d\\ude00")).nickname).toBe("😀");
  });
});
