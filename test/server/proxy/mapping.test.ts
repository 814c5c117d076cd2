// The proxy's error taxonomy (Client.hs:smpProxyError over ProtocolClientError), the host choice
// (Client.hs:chooseTransportHost with the server's [PROXY] host_mode) and the SOCKS5 CONNECT
// request (RFC 1928 §4/§5, what Network.Socks5 sends for SocksAddress).
import { describe, expect, test } from "bun:test";
import { proxyError } from "../../../src/server/proxy/errors.ts";
import { chooseRelayHost } from "../../../src/server/proxy/agent.ts";
import { socksConnectRequest } from "../../../src/server/proxy/socks.ts";
import { SMPClientError, SMPError } from "../../../src/client/errors.ts";
import { HandshakeError } from "../../../src/transport/client-handshake.ts";
import { ERR, encodeErrorType, type ErrorType } from "../../../src/protocol/errors.ts";
import { Writer } from "../../../src/encoding/writer.ts";
import type { ProxyOptions } from "../../../src/server/options.ts";

const text = (e: ErrorType) => {
  const w = new Writer(100);
  encodeErrorType(w, e);
  return new TextDecoder("latin1").decode(w.view_());
};

describe("smpProxyError", () => {
  test("each client error becomes what the reference sends (wire text)", () => {
    const cases: [unknown, string][] = [
      [new SMPError(ERR.AUTH), "PROXY PROTOCOL AUTH"],
      [new SMPError({ type: "PROXY", err: { type: "NO_SESSION" } }), "PROXY PROTOCOL PROXY NO_SESSION"],
      [new SMPClientError("timeout", "t"), "PROXY BROKER TIMEOUT"],
      [new SMPClientError("connect", "refused"), "PROXY BROKER NETWORK"],
      [new Error("socket hang up"), "PROXY BROKER NETWORK"],
      [new HandshakeError({ type: "VERSION" }), "PROXY BROKER TRANSPORT VERSION"],
      [new HandshakeError({ type: "HANDSHAKE", err: "BAD_AUTH" }), "PROXY BROKER TRANSPORT HANDSHAKE BAD_AUTH"],
      [new SMPClientError("large-msg", "x"), "PROXY BROKER TRANSPORT LARGE_MSG"],
      [new SMPClientError("no-server-auth", "x"), "PROXY BROKER TRANSPORT NO_AUTH"],
      [new SMPClientError("crypto", "x"), "CRYPTO"],
      // RESPONSE/UNEXPECTED carry a short string (length-prefixed, vectors README).
      [new SMPClientError("bad-response", "x", null, ERR.BLOCK), "PROXY BROKER RESPONSE \x05BLOCK"],
      [new SMPClientError("bad-response", "x", null, { type: "CMD", err: "NO_ENTITY" }), "PROXY BROKER RESPONSE \x0dCMD NO_ENTITY"],
      [new SMPClientError("unexpected", "unexpected response PONG", { tag: "PONG" }), "PROXY BROKER UNEXPECTED \x04PONG"],
    ];
    for (const [e, wire] of cases) expect(text(proxyError(e))).toBe(wire);
  });
});

describe("chooseTransportHost", () => {
  const onion = "x".repeat(56) + ".onion";
  const base: ProxyOptions = { enabled: true, clientConcurrency: 32 };
  const socks = { host: "127.0.0.1", port: 9050 };
  test("public mode takes the first public host, else the first host unless required", () => {
    expect(chooseRelayHost(base, [onion, "smp.example", "1.2.3.4"])).toBe("smp.example");
    expect(chooseRelayHost(base, [onion])).toBe(onion);
    expect(chooseRelayHost({ ...base, requiredHostMode: true }, [onion])).toBeNull();
  });
  test("onion mode (HMOnionViaSocks) prefers onion hosts only with a SOCKS proxy", () => {
    expect(chooseRelayHost({ ...base, hostMode: "onion", socksProxy: socks }, ["smp.example", onion])).toBe(onion);
    expect(chooseRelayHost({ ...base, hostMode: "onion" }, ["smp.example", onion])).toBe("smp.example");
    expect(chooseRelayHost({ ...base, hostMode: "onion", socksProxy: socks, requiredHostMode: true }, ["smp.example"])).toBeNull();
    expect(chooseRelayHost({ ...base, hostMode: "onion", socksProxy: socks }, ["smp.example"])).toBe("smp.example");
  });
});

describe("SOCKS5 CONNECT request", () => {
  test("IPv4, IPv6 and domain-name addresses, port big-endian", () => {
    expect([...socksConnectRequest("127.0.0.1", 5223)]).toEqual([5, 1, 0, 1, 127, 0, 0, 1, 0x14, 0x67]);
    expect([...socksConnectRequest("::1", 443)]).toEqual([5, 1, 0, 4, ...new Array(15).fill(0), 1, 1, 0xbb]);
    expect([...socksConnectRequest("2001:db8::2:1", 1)]).toEqual([5, 1, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 1]);
    // an embedded IPv4 tail is the last 4 of the 16 address bytes
    expect([...socksConnectRequest("::ffff:1.2.3.4", 80)]).toEqual([5, 1, 0, 4, ...new Array(10).fill(0), 0xff, 0xff, 1, 2, 3, 4, 0, 80]);
    // not an address SOCKS5 can carry as bytes (a zone id, brackets): sent as a name for the proxy to resolve
    for (const h of ["fe80::1%eth0", "[::1]"]) expect([...socksConnectRequest(h, 1)]).toEqual([5, 1, 0, 3, h.length, ...new TextEncoder().encode(h), 0, 1]);
    const h = "abc.onion";
    expect([...socksConnectRequest(h, 5223)]).toEqual([5, 1, 0, 3, h.length, ...new TextEncoder().encode(h), 0x14, 0x67]);
  });
});
