/**
 * The web side's connection limits (src/web/http.ts:webConnections): the per-address limit counts an IPv6 /64 as
 * one client (a host picks any address in its /64), IPv4 and IPv4-mapped alike — the same unit as
 * SMP's admission (transport/admission.ts:addressKey).
 */
import { expect, test } from "bun:test";
import { HTTP_LIMITS, webConnections } from "../../src/web/http.ts";

test("one IPv6 /64 shares one per-address allowance; another /64 has its own; a closed connection gives its place back", () => {
  const web = webConnections("/nonexistent", 256, HTTP_LIMITS, 2);
  const a = web.connection(null, "2001:db8:1:2::1");
  expect(a).not.toBeNull();
  expect(web.connection(null, "2001:0db8:0001:0002:ffff:ffff:ffff:9")).not.toBeNull();
  expect(web.connection(null, "2001:db8:1:2::abcd")).toBeNull(); // a third address of the same /64
  expect(web.connection(null, "2001:db8:1:3::1")).not.toBeNull(); // the next /64
  expect(web.open).toBe(3);
  a!.socketClosed();
  expect(web.open).toBe(2);
  expect(web.connection(null, "2001:db8:1:2::abcd")).not.toBeNull();
});

test("IPv4 and the same address IPv4-mapped are one client", () => {
  const web = webConnections("/nonexistent", 256, HTTP_LIMITS, 1);
  expect(web.connection(null, "192.0.2.7")).not.toBeNull();
  expect(web.connection(null, "::ffff:192.0.2.7")).toBeNull();
  expect(web.connection(null, "192.0.2.8")).not.toBeNull();
});
