import { describe, expect, test } from "bun:test";
import { decodePubKey, encodePrivKey, encodePubKey, publicKey, type KeyAlg } from "../../src/crypto/keys.ts";
import { fromUtf8, utf8 } from "../../src/encoding/bytes.ts";
import { ParseError, Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

// primitives.json: `smpEncode x` computed by the reference (Encoding.hs and the instances in `fn`).
// Protocol-level types (MsgFlags, QueueReqData, SMPServer, …) are tested by the protocol layer.
const prims = loadVectors("primitives.json");
const vectors = prims.vectors as any[];
const named = (name: string) => {
  const v = vectors.find((x) => x.name === name);
  if (!v) throw new Error("missing vector " + name);
  return v;
};
const byFn = (fn: string) => vectors.filter((v) => v.fn === fn);
const enc = (f: (w: Writer) => unknown) => {
  const w = new Writer(4);
  f(w);
  return toHex(w.toBytes());
};
const keyByLabel = (label: string) => (prims.keys as any[]).find((k) => k.label === label)!;

describe("ByteString / Large / Tail (Encoding.hs)", () => {
  for (const name of ["shortString empty", "shortString abc"]) {
    test(name, () => {
      const v = named(name);
      expect(enc((w) => w.short(hex(v.input)))).toBe(v.output);
      const r = new Reader(hex(v.output));
      expect(toHex(r.short())).toBe(v.input);
      r.expectEnd();
    });
  }

  test("255-byte short string", () => {
    const v = vectors.find((x) => x.fn === "Encoding.hs:Encoding ByteString" && x.input.length === 510)!;
    expect(enc((w) => w.short(hex(v.input)))).toBe(v.output);
    expect(toHex(new Reader(hex(v.output)).short())).toBe(v.input);
  });

  test("256-byte short string: reference wraps the length to 0x00; our Writer refuses instead", () => {
    const v = byFn("Encoding.hs:Encoding ByteString / lenEncode")[0];
    expect(hex(v.input).length).toBe(256);
    expect(v.output.slice(0, 2)).toBe("00"); // what the reference emits (unparseable as the original)
    expect(() => new Writer().short(hex(v.input))).toThrow(RangeError);
  });

  for (const v of byFn("Encoding.hs:Encoding Large")) {
    test(v.name, () => {
      expect(enc((w) => w.large(hex(v.input)))).toBe(v.output);
      const r = new Reader(hex(v.output));
      expect(toHex(r.large())).toBe(v.input);
      r.expectEnd();
    });
  }

  test("Tail", () => {
    const v = named("Tail");
    expect(enc((w) => w.bytes(hex(v.input)))).toBe(v.output);
    const r = new Reader(hex(v.output));
    expect(toHex(r.tail())).toBe(v.input);
    expect(r.atEnd()).toBe(true);
  });

  test("truncated short / Large → ParseError", () => {
    expect(() => new Reader(hex("036162")).short()).toThrow(ParseError);
    expect(() => new Reader(hex("000361")).large()).toThrow(ParseError);
  });
});

describe("numbers (Encoding.hs)", () => {
  for (const v of byFn("Encoding.hs:Encoding Word16")) {
    test(v.name, () => {
      expect(enc((w) => w.word16(v.input))).toBe(v.output);
      expect(new Reader(hex(v.output)).word16()).toBe(v.input);
    });
  }
  for (const v of byFn("Encoding.hs:Encoding Word32")) {
    test(v.name, () => {
      expect(enc((w) => w.word32(v.input))).toBe(v.output);
      expect(new Reader(hex(v.output)).word32()).toBe(v.input);
    });
  }
  for (const v of byFn("Encoding.hs:Encoding Int64")) {
    test(v.name, () => {
      const big = BigInt(v.input);
      expect(enc((w) => w.int64Big(big))).toBe(v.output);
      expect(new Reader(hex(v.output)).int64Big()).toBe(big);
      if (big >= -(2n ** 53n) && big <= 2n ** 53n) {
        expect(enc((w) => w.int64(Number(big)))).toBe(v.output);
        expect(new Reader(hex(v.output)).int64()).toBe(Number(big));
      }
    });
  }
  test("SystemTime: seconds only (nanoseconds dropped)", () => {
    const v = named("SystemTime 1700000000s (nanoseconds dropped)");
    expect(enc((w) => w.int64(1700000000))).toBe(v.output);
    expect(new Reader(hex(v.output)).int64()).toBe(1700000000);
  });
  for (const v of byFn("Version/Internal.hs:Encoding Version (Word16)")) {
    test(v.name, () => expect(enc((w) => w.word16(v.input))).toBe(v.output));
  }
  for (const v of byFn("Version.hs:Encoding VersionRange")) {
    test(v.name, () => {
      expect(enc((w) => w.word16(v.input[0]).word16(v.input[1]))).toBe(v.output);
      const r = new Reader(hex(v.output));
      expect([r.word16(), r.word16()]).toEqual(v.input);
    });
  }
});

describe("Bool / Char / Maybe / Text / tuples / lists (Encoding.hs)", () => {
  for (const v of byFn("Encoding.hs:Encoding Bool")) {
    test(v.name, () => {
      expect(enc((w) => w.bool(v.input))).toBe(v.output);
      expect(new Reader(hex(v.output)).bool()).toBe(v.input);
    });
  }
  test("Bool: other bytes fail", () => expect(() => new Reader(hex("74")).bool()).toThrow(ParseError));

  test("Char", () => {
    const v = named("Char A");
    expect(enc((w) => w.ascii(v.input))).toBe(v.output);
    expect(String.fromCharCode(new Reader(hex(v.output)).byte())).toBe(v.input);
  });

  test("Maybe ByteString Nothing / Just", () => {
    const n = named("Maybe ByteString Nothing");
    expect(enc((w) => w.maybe(false))).toBe(n.output);
    expect(new Reader(hex(n.output)).maybe()).toBe(false);
    const j = named("Maybe ByteString Just abc");
    expect(enc((w) => w.maybe(true).short(hex(j.input)))).toBe(j.output);
    const r = new Reader(hex(j.output));
    expect(r.maybe()).toBe(true);
    expect(toHex(r.short())).toBe(j.input);
  });

  test("Maybe Bool Just True", () => {
    const v = named("Maybe Bool Just True");
    expect(enc((w) => w.maybe(true).bool(v.input))).toBe(v.output);
    expect(() => new Reader(hex("32")).maybe()).toThrow(ParseError);
  });

  test("Text UTF-8 (short string of UTF-8 bytes)", () => {
    const v = named("Text UTF-8");
    expect(enc((w) => w.short(utf8(v.input)))).toBe(v.output);
    expect(fromUtf8(new Reader(hex(v.output)).short())).toBe(v.input);
    expect(() => fromUtf8(new Reader(hex("02c328")).short())).toThrow();
  });

  test("tuple (Char, ByteString, Bool): concatenation", () => {
    const v = named("tuple (Char, ByteString, Bool)");
    expect(enc((w) => w.ascii("X").short(utf8("ab")).bool(true))).toBe(v.output);
    const r = new Reader(hex(v.output));
    expect([r.byte(), fromUtf8(r.short()), r.bool()]).toEqual([0x58, "ab", true]);
    r.expectEnd();
  });

  const lists = [
    ...byFn("Encoding.hs:Encoding (NonEmpty a) = smpEncodeList"),
    ...byFn("Encoding.hs:smpEncodeList"),
  ];
  test("list vectors present", () => expect(lists.length).toBe(3));
  for (const v of lists) {
    test(v.name, () => {
      const items: string[] = v.input;
      expect(
        enc((w) => {
          w.byte(items.length);
          for (const s of items) w.short(utf8(s));
        }),
      ).toBe(v.output);
      const r = new Reader(hex(v.output));
      const n = r.byte();
      const got: string[] = [];
      for (let i = 0; i < n; i++) got.push(fromUtf8(r.short()));
      r.expectEnd();
      expect(got).toEqual(items);
    });
  }
});

describe("ids and nonces (short / raw)", () => {
  for (const fn of ["Protocol.hs:CorrId (newtype Encoding = ByteString)", "Transport.hs:EntityId", "Crypto.hs:Encoding KeyHash"]) {
    for (const v of byFn(fn)) {
      test(v.name, () => {
        expect(enc((w) => w.short(hex(v.input)))).toBe(v.output);
        expect(toHex(new Reader(hex(v.output)).short())).toBe(v.input);
      });
    }
  }
  test("CbNonce: raw 24 bytes, no length", () => {
    const v = named("CbNonce (raw 24 bytes, no length)");
    expect(enc((w) => w.bytes(hex(v.input)))).toBe(v.output);
    const r = new Reader(hex(v.output + "ff"));
    expect(toHex(r.take(24))).toBe(v.input);
    expect(r.remaining).toBe(1);
  });
});

describe("public and private keys (Crypto.hs:encodePubKey / encodePrivKey)", () => {
  const algOf = (label: string) => keyByLabel(label).algorithm.toLowerCase() as KeyAlg;
  const shortKeyFns = [
    "Crypto.hs:Encoding APublicAuthKey = smpEncode . encodePubKey",
    "Crypto.hs:Encoding APublicAuthKey",
    "Crypto.hs:Encoding (PublicKey X25519)",
    "Crypto.hs:Encoding APublicVerifyKey",
    "Crypto.hs:Encoding (PublicKey X448)",
  ];
  const shortKeys = shortKeyFns.flatMap(byFn);
  test("short-prefixed key vectors present", () => expect(shortKeys.length).toBe(5));
  for (const v of shortKeys) {
    test(v.name, () => {
      const k = keyByLabel(v.input);
      const der = encodePubKey(algOf(v.input), hex(k.public_raw));
      expect(enc((w) => w.short(der))).toBe(v.output);
      const decoded = decodePubKey(new Reader(hex(v.output)).short());
      expect(decoded.alg).toBe(algOf(v.input));
      expect(toHex(decoded.raw)).toBe(k.public_raw);
    });
  }
  for (const v of byFn("Crypto.hs:encodePubKey")) {
    test(v.name, () => {
      const k = keyByLabel(v.input);
      expect(toHex(publicKey(algOf(v.input), hex(k.public_raw)).der)).toBe(v.output);
    });
  }
  for (const v of byFn("Crypto.hs:encodePrivKey")) {
    test(v.name, () => {
      const k = keyByLabel(v.input);
      expect(toHex(encodePrivKey(algOf(v.input), hex(k.private_raw)))).toBe(v.output);
    });
  }
  test("decodePubKey rejects trailing bytes and unknown prefixes", () => {
    const v = named("encodePubKey Ed25519 (SPKI DER, 44 bytes)");
    expect(() => decodePubKey(hex(v.output + "00"))).toThrow();
    expect(() => decodePubKey(hex("302a300506032b6571032100" + v.output.slice(24)))).toThrow();
  });
});
