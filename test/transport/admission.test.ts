// transport/admission.ts: what one peer's "address" is, and the two bounds.
import { expect, test } from "bun:test";
import { Admission, addressKey } from "../../src/transport/admission.ts";

test("an IPv4 address is itself; IPv4-mapped IPv6 is the IPv4 address", () => {
  expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
  expect(addressKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
  expect(addressKey("")).toBeNull();
});

test("an IPv6 address counts by its /64, however it is written", () => {
  const k = "2001:db8:1:2::/64";
  expect(addressKey("2001:db8:1:2::1")).toBe(k);
  expect(addressKey("2001:0db8:0001:0002:ffff:eeee:dddd:cccc")).toBe(k);
  expect(addressKey("2001:DB8:1:2:0:0:0:9")).toBe(k);
  expect(addressKey("2001:db8:1:3::1")).not.toBe(k);
  expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
  expect(addressKey("::1")).toBe("0:0:0:0::/64");
  expect(addressKey("::")).toBe("0:0:0:0::/64");
  expect(addressKey("1::")).toBe("1:0:0:0::/64");
  expect(addressKey("2001:db8:1:2:3:4:5::")).toBe(k);
});

test("IPv4-mapped in hex groups is the IPv4 address too; text that is not an address keys on itself", () => {
  expect(addressKey("::FFFF:cb00:7107")).toBe("203.0.113.7");
  expect(addressKey("::ffff:0:203.0.113.7")).toBe("0:0:0:0::/64"); // IPv4-translated (RFC 2765), not mapped
  expect(addressKey("1:2:3:4:5:6:7:1.2.3.4")).toBe("1:2:3:4:5:6:7:1.2.3.4");
  expect(addressKey("Not:An:Address")).toBe("not:an:address");
});

test("the total and per-address bounds; releasing frees the slot; loopback exempt unless asked", () => {
  const a = new Admission({ maxConnections: 3, maxPerAddress: 2 });
  const k1 = a.admit("198.51.100.1");
  expect(a.admit("198.51.100.1")).toEqual({ key: "198.51.100.1" });
  expect(a.admit("198.51.100.1")).toBe("per-address");
  expect(a.admit("2001:db8::5")).toEqual({ key: "2001:db8:0:0::/64" });
  expect(a.admit("198.51.100.2")).toBe("max-connections");
  expect(a.open).toBe(3);
  a.release((k1 as { key: string }).key);
  expect(a.admit("198.51.100.1")).toEqual({ key: "198.51.100.1" });
  const lo = new Admission({ maxConnections: 10, maxPerAddress: 1 });
  expect(lo.admit("127.0.0.1")).toEqual({ key: null });
  expect(lo.admit("127.0.0.1")).toEqual({ key: null });
  const strict = new Admission({ maxConnections: 10, maxPerAddress: 1, limitLoopback: true });
  expect(strict.admit("127.0.0.1")).toEqual({ key: "127.0.0.1" });
  expect(strict.admit("127.0.0.1")).toBe("per-address");
});
