/** Transport/Server.hs:supportedTLSServerParams `onALPNClientSuggest` = find (`elem` clientList) serverList. */
import { expect, test } from "bun:test";
import { SERVER_ALPN, selectAlpn } from "../../../src/transport/tls/alpn.ts";

test("server list is smp/1, h2, http/1.1 (Server/Main.hs:serverConfig)", () => {
  expect(SERVER_ALPN).toEqual(["smp/1", "h2", "http/1.1"]);
});

test("the first server-list entry the client offered, whatever the client's order", () => {
  expect(selectAlpn(SERVER_ALPN, ["smp/1"])).toBe("smp/1");
  expect(selectAlpn(SERVER_ALPN, ["http/1.1", "h2"])).toBe("h2");
  expect(selectAlpn(SERVER_ALPN, ["http/1.1", "smp/1"])).toBe("smp/1");
  expect(selectAlpn(SERVER_ALPN, ["foo", "http/1.1"])).toBe("http/1.1");
});

test("no common protocol → undefined (the handshake is then aborted)", () => {
  expect(selectAlpn(SERVER_ALPN, ["foo"])).toBeUndefined();
  expect(selectAlpn(SERVER_ALPN, [])).toBeUndefined();
});
