// resolver_endpoint / resolver_auth validation: tests/SMPNamesTests.hs:validateUrlSpec at 209f7826c case by case,
// the pre-merge cases that still agree with it (5e0b75703^ tests/SMPNamesTests.hs), and the SSRF forms named in
// the pre-merge Server/Main.hs (isBareIntegerHost, isObfuscatedIpv4, isLinkLocal, isForbiddenIpv6).
import { describe, expect, test } from "bun:test";
import { parseResolverAuth, validateResolverUrl } from "../../../src/server/names/endpoint.ts";

const ok = (url: string, auth: boolean) => typeof validateResolverUrl(url, auth) === "string";
const reason = (url: string, auth: boolean): string => {
  const r = validateResolverUrl(url, auth);
  return typeof r === "string" ? "" : r.error;
};

describe("validateUrlSpec (tests/SMPNamesTests.hs at 209f7826c)", () => {
  // `auth = AuthBasic "user" "pass"`
  test("accepts an https URL with a path prefix", () => expect(ok("https://gw.example.com:443/snrc", false)).toBe(true));
  test("accepts an http URL", () => expect(ok("http://127.0.0.1:8000", false)).toBe(true));
  test("accepts a URL without an explicit port", () => expect(ok("https://gw.example.com/snrc", false)).toBe(true));
  test("rejects a relative / non-absolute URI", () => expect(reason("gw.example.com/snrc", false)).toMatch(/not an absolute URI/));
  test("rejects a non-http(s) scheme", () => expect(reason("ftp://gw.example.com:21", false)).toMatch(/http or https/));
  test("rejects an empty host", () => expect(reason("http://", false)).toMatch(/empty host/));
  test("accepts https with auth (Authorization is TLS-protected)", () => expect(ok("https://gw.example.com", true)).toBe(true));
  test("accepts loopback http with auth (no cleartext exposure)", () => expect(ok("http://localhost:8000", true)).toBe(true));
  test("rejects non-loopback http with auth (cleartext credential leak)", () =>
    expect(reason("http://gw.example.com:8000", true)).toMatch(/non-loopback/));
  test("rejects URL-embedded userinfo (credentials belong in resolver_auth)", () =>
    expect(reason("https://user:pass@gw.example.com", false)).toMatch(/userinfo/));
  test("rejects http+auth to a 127.-prefixed non-loopback host (not real loopback)", () =>
    expect(reason("http://127.evil.com:8000", true)).toMatch(/non-loopback/));
});

describe("pre-merge validateUrlSpec cases that 209f7826c still agrees with (5e0b75703^)", () => {
  test("accepts https with explicit port and auth (root path)", () => expect(ok("https://gw.example.com:443", true)).toBe(true));
  test("accepts a path prefix with trailing slash, stripping it (Main.hs: dropWhileEnd (== '/'))", () =>
    expect(validateResolverUrl("https://gw.example.com:443/snrc/", true)).toBe("https://gw.example.com:443/snrc"));
  test("rejects a query string", () => expect(reason("https://gw.example.com:443/snrc?x=1", true)).toMatch(/query/));
  test("rejects a fragment (parseAbsoluteURI has no fragment)", () => expect(reason("https://gw.example.com:443/snrc#f", true)).toMatch(/fragment/));
  test("accepts http without auth on a non-loopback host", () => expect(ok("http://host.docker.internal:9999", false)).toBe(true));
  test("allows loopback http without auth (with a path prefix)", () =>
    expect(validateResolverUrl("http://localhost:8000/snrc", false)).toBe("http://localhost:8000/snrc"));
  // Not ported: "rejects a missing port" — 209f7826c accepts a URL without a port (case above).
});

describe("the rest of validateUrl", () => {
  test("every loopback spelling the reference lists may carry auth over http; nothing else", () => {
    for (const h of ["localhost", "127.0.0.1", "[::1]", "0.0.0.0"]) expect(ok(`http://${h}:8000`, true)).toBe(true);
    for (const h of ["127.0.0.2", "10.0.0.1", "example.com", "localhost.example.com"]) expect(ok(`http://${h}:8000`, true)).toBe(false);
  });
  test("https with any public host, with or without auth; the value is returned unchanged", () => {
    expect(validateResolverUrl("https://names.example.com:8443/a/b", true)).toBe("https://names.example.com:8443/a/b");
    expect(validateResolverUrl("https://[2001:db8::1]:443", false)).toBe("https://[2001:db8::1]:443");
  });
  test("a bare @ is userinfo too (uriUserInfo = \"@\")", () => expect(reason("https://@gw.example.com", false)).toMatch(/userinfo/));
  test("characters outside RFC 3986 and bad ports are not a URI", () => {
    for (const u of ["https://gw.example.com/a b", "https://gw.exämple.com", "https://gw.example.com:80x", "https://gw.example.com/%zz"])
      expect(reason(u, false)).toMatch(/not an absolute URI/);
    expect(reason("https://gw.example.com:70000", false)).toMatch(/port/);
    expect(reason("https://gw.example.com:0", false)).toMatch(/port/);
  });
  test("no host part at all", () => expect(reason("https:gw.example.com", false)).toMatch(/missing host/));
});

describe("SSRF guard (pre-merge Server/Main.hs: metadata, link-local, numeric aliases)", () => {
  const refused = (host: string, why: RegExp) => {
    expect(reason(`https://${host}:8000`, false)).toMatch(why);
    expect(reason(`http://${host}:8000`, false)).toMatch(why);
  };
  test("169.254.0.0/16 in dotted-quad form", () => {
    refused("169.254.169.254", /link-local/);
    refused("169.254.1.1", /link-local/);
  });
  test("integer, hex, octal, mixed and short IPv4 aliases of 169.254.169.254", () => {
    for (const h of ["2852039166", "0xa9fea9fe", "0XA9FEA9FE", "0xA9.0xFE.0xA9.0xFE", "0251.0376.0251.0376", "169.0376.169.254", "169.16689638", "169.254.43518", "169.254.169.254."])
      refused(h, /non-canonical IPv4/);
  });
  test("non-canonical forms of harmless addresses are refused as well (127.1 is not written as 127.0.0.1)", () => {
    refused("127.1", /non-canonical IPv4/);
    refused("0x7f000001", /non-canonical IPv4/);
    refused("%31%32%37.0.0.1", /non-canonical/);
  });
  test("IPv6 link-local and IPv6 aliases of 169.254/16 (mapped, compatible, 6to4, NAT64)", () => {
    refused("[fe80::1]", /link-local/);
    refused("[febf:ffff::1]", /link-local/);
    for (const h of ["[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]", "[0:0:0:0:0:ffff:a9fe:1]", "[::169.254.169.254]", "[2002:a9fe:a9fe::]", "[64:ff9b::169.254.169.254]"])
      refused(h, /IPv6 alias/);
  });
  test("cloud metadata addresses and names", () => {
    for (const h of ["[fd00:ec2::254]", "100.100.100.200", "192.0.0.192", "[::ffff:100.100.100.200]"]) refused(h, /metadata/);
    for (const h of ["metadata.google.internal", "METADATA.google.internal", "metadata.goog", "instance-data"]) refused(h, /metadata host name/);
  });
  test("neighbours of the refused ranges stay allowed", () => {
    for (const h of ["169.253.255.255", "169.255.0.1", "[fec0::1]", "[::ffff:127.0.0.1]", "[2002:c000:0201::]", "100.100.100.201", "10.0.0.1", "metadata.example.com", "1e100.net"])
      expect(ok(`https://${h}:8000`, false)).toBe(true);
  });
});

describe("parseRpcAuth (Server/Main.hs)", () => {
  test("bearer / basic, scheme case-insensitive", () => {
    expect(parseResolverAuth("bearer tok")).toEqual({ scheme: "bearer", token: "tok" });
    expect(parseResolverAuth("BEARER tok")).toEqual({ scheme: "bearer", token: "tok" });
    expect(parseResolverAuth("Basic user:pa:ss")).toEqual({ scheme: "basic", user: "user", password: "pa:ss" });
    expect(parseResolverAuth("basic user:")).toEqual({ scheme: "basic", user: "user", password: "" });
  });
  test("malformed values, without echoing them", () => {
    expect(parseResolverAuth("basic :secret")).toBe("basic auth expects user:password");
    expect(parseResolverAuth("basic secret")).toBe("basic auth expects user:password");
    for (const bad of ["", "bearer", "bearer a b", "digest secret", "secret"]) {
      const r = parseResolverAuth(bad);
      expect(r).toBe("expected `bearer <token>` or `basic <user>:<pass>`");
    }
    expect(parseResolverAuth("bearer tök")).toBe("bearer token must be printable ASCII");
  });
});
