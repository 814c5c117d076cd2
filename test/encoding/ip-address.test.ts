// RFC 4291 §2.2 text forms → bytes; what node:net's isIPv6 accepts (zone ids aside) is accepted here.
import { expect, test } from "bun:test";
import { isIPv6 } from "node:net";
import { ipv6Bytes } from "../../src/encoding/ip-address.ts";

const hex = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b).toString("hex"));

/** `text` parses to `bytes` (hex), and node:net agrees that it is an IPv6 address. */
function expectBytes(text: string, bytes: string): void {
  expect(hex(ipv6Bytes(text))).toBe(bytes);
  expect(isIPv6(text)).toBe(true);
}

test("`::` stands for the zero groups wherever it is", () => {
  expectBytes("::", "00".repeat(16));
  expectBytes("::1", "00".repeat(15) + "01");
  expectBytes("1::", "0001" + "00".repeat(14));
  expectBytes("2001:db8::2:1", "20010db8" + "00".repeat(8) + "00020001");
  expectBytes("1:2:3:4:5:6:7::", "0001000200030004000500060007" + "0000");
  expectBytes("::2:3:4:5:6:7:8", "0000" + "0002000300040005000600070008");
});

test("eight groups, any case, leading zeros optional", () => {
  expectBytes("2001:0DB8:0001:0002:ffff:EEEE:dddd:c", "20010db800010002ffffeeeedddd000c");
});

test("an embedded IPv4 tail is the last 32 bits", () => {
  expectBytes("::ffff:1.2.3.4", "00".repeat(10) + "ffff01020304");
  expectBytes("::1.2.3.4", "00".repeat(12) + "01020304");
  expectBytes("64:ff9b::192.0.2.33", "0064ff9b" + "00".repeat(8) + "c0000221");
  expectBytes("1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304");
  expectBytes("1::3:4:5:6:1.2.3.4", "00010000000300040005000601020304");
});

test("what is not an IPv6 address is null", () => {
  for (const bad of [
    "",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::",
    "1::2:",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "1:2:3:4::5:6:7:8",
    "12345::",
    "g::",
    "1.2.3.4",
    "1.2.3.4::",
    "::1.2.3.4:5",
    "::1.2.3",
    "::1.2.3.256",
    "::01.2.3.4",
    "1:2:3:4:5:6:7:1.2.3.4",
    "fe80::1%eth0",
    "[::1]",
    " ::1",
  ]) {
    expect([bad, ipv6Bytes(bad)]).toEqual([bad, null]);
    if (!bad.includes("%")) expect([bad, isIPv6(bad)]).toEqual([bad, false]);
  }
});
