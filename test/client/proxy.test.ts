// Proxied sending end to end against proxy.json: the client's PRXY/PKEY check and PFWD/PRES
// (Client.hs:connectSMPProxiedRelay, proxySMPCommand) and a router's RFWD/RRES to the destination
// (Client.hs:forwardSMPTransmission), byte for byte with fixed nonces and keys.
import { afterEach, describe, expect, test } from "bun:test";
import { hex, loadVectors, toHex } from "../vectors.ts";
import { startFake, KEY_HASH } from "./fake-server.ts";
import { SMPClient } from "../../src/client/client.ts";
import { SMPError } from "../../src/client/errors.ts";
import { ProxyClientError, proxiedRelayFromPKEY } from "../../src/client/proxy.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { publicKey } from "../../src/crypto/keys.ts";
import { batch1 } from "../../src/protocol/batch.ts";
import { ERR } from "../../src/protocol/errors.ts";
import { versionRange } from "../../src/protocol/versions.ts";

const X = loadVectors("proxy.json");
const S = X.steps;
const T = loadVectors("transmissions.json");
const keyOf = (label: string) => X.keys.find((k: any) => k.label === label);
const relayServer = { hosts: ["relay.example"], port: "", keyHash: KEY_HASH };
const sndId = hex(T.ids.sndId);
const sndKey = () => new SignPrivateKey("ed25519", hex(keyOf("snd-auth-ed25519").private_raw));
const EMPTY = new Uint8Array(0);

let clients: SMPClient[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  clients = [];
});

async function clientToProxy() {
  const r = await startFake({ sessionId: hex(X.client_proxy_session_id) });
  clients.push(r.client);
  const pPkey = r.client.connectProxiedRelay(relayServer, null, { corrId: hex(S["1_PKEY"].corr_id) });
  const prxy = await r.server.next();
  expect(prxy.command).toMatchObject({ tag: "PRXY", basicAuth: null });
  r.server.writePayload(batch1(hex(S["1_PKEY"].transmission)));
  return { ...r, relay: await pPkey };
}

describe("client → proxy", () => {
  test("PKEY: the relay's session, version and verified session key", async () => {
    const { relay } = await clientToProxy();
    expect(toHex(relay.sessionId)).toBe(X.relay_session_id);
    expect(relay.version).toBe(20);
    expect(toHex(relay.serverKey)).toBe(keyOf(X.relay_server_session_key).public_raw);
  });

  test("PFWD carries the reference's encrypted inner SEND; PRES opens to the relay's OK", async () => {
    const { client, server, relay } = await clientToProxy();
    const c2 = S["2_client"];
    const p = client.proxyCommand(relay, sndKey(), sndId, { tag: "SEND", flags: { notification: true }, body: new TextEncoder().encode("hello via proxy") }, {
      corrId: hex(c2.nonce_and_corr_id),
      cmdKey: new DhPrivateKey(hex(keyOf(c2.cmd_key).private_raw)),
    });
    const t = await server.next();
    expect(t.command!.tag).toBe("PFWD");
    expect(toHex(server.payloads[1]!)).toBe(S["3_PFWD"].block_payload);
    server.writePayload(batch1(hex(S["8_PRES"].transmission)));
    expect(await p).toEqual({ tag: "OK" });
  });

  test("the proxy's own ERR is a ProxyClientError, not the relay's SMPError", async () => {
    const { client, server, relay } = await clientToProxy();
    const p = client.proxyCommand(relay, sndKey(), sndId, { tag: "SEND", flags: { notification: false }, body: new Uint8Array(3) }).catch((e) => e);
    const t = await server.next();
    server.respond(t.corrId, relay.sessionId, { tag: "ERR", err: { type: "PROXY", err: { type: "NO_SESSION" } } });
    const e = await p;
    expect(e).toBeInstanceOf(ProxyClientError);
    expect(e.kind).toBe("PROTOCOL");
    expect(e).not.toBeInstanceOf(SMPError);
  });

  test("PKEY with an unknown relay identity or no common version is refused", () => {
    const cert = { certChain: [hex(loadVectors("handshake.json").fixtures.server_crt_der), hex(loadVectors("handshake.json").fixtures.ca_crt_der)], signedPubKey: hex(loadVectors("handshake.json").signed_server_session_key_der) };
    const sid = new Uint8Array(32);
    const ok = proxiedRelayFromPKEY(KEY_HASH, sid, versionRange(8, 20), cert, null);
    expect(ok.version).toBe(20);
    const identity = { type: "PROXY", err: { type: "BROKER", err: { type: "TRANSPORT", err: { type: "HANDSHAKE", err: "IDENTITY" } } } };
    expect(() => proxiedRelayFromPKEY(new Uint8Array(32), sid, versionRange(8, 20), cert, null)).toThrow(expect.objectContaining({ err: identity }));
    const badSig = { ...cert, signedPubKey: cert.signedPubKey.slice() };
    badSig.signedPubKey[badSig.signedPubKey.length - 5] ^= 1;
    expect(() => proxiedRelayFromPKEY(KEY_HASH, sid, versionRange(8, 20), badSig, null)).toThrow(expect.objectContaining({ err: identity }));
    expect(() => proxiedRelayFromPKEY(KEY_HASH, sid, versionRange(21, 22), cert, null)).toThrow(
      expect.objectContaining({ err: { type: "PROXY", err: { type: "BROKER", err: { type: "TRANSPORT", err: { type: "VERSION" } } } } }),
    );
  });
});

describe("router (proxy) → destination", () => {
  test("RFWD wraps the client's PFWD for the relay session; RRES opens to the client's response", async () => {
    const { client, server } = await startFake({
      sessionId: hex(X.relay_session_id),
      serverSessionKey: new DhPrivateKey(hex(keyOf(X.relay_server_session_key).private_raw)),
      client: { proxyServer: true, sessionKey: new DhPrivateKey(hex(keyOf(X.proxy_client_session_key).private_raw)) },
    });
    clients.push(client);
    expect(client.handle.blockEncryption).toBe(false); // proxy↔relay connections are not block-encrypted
    const c2 = S["2_client"];
    const p = client.forwardTransmission(
      {
        fwdCorrId: hex(c2.nonce_and_corr_id),
        fwdVersion: 20,
        fwdKey: publicKey("x25519", hex(keyOf(c2.cmd_key).public_raw)),
        encTransmission: hex(c2.enc_transmission),
      },
      { corrId: hex(S["4_proxy"].rfwd_nonce_and_corr_id) },
    );
    const t = await server.next();
    expect(t.command!.tag).toBe("RFWD");
    expect(toHex(server.payloads[0]!)).toBe(S["5_RFWD"].block_payload);
    server.writePayload(batch1(hex(S["7_RRES"].transmission)));
    expect(toHex(await p)).toBe(S["6_relay"].enc_response);
  });

  test("a relay's ERR to RFWD is thrown as SMPError", async () => {
    const { client, server } = await startFake({ client: { proxyServer: true } });
    clients.push(client);
    const p = client
      .forwardTransmission({ fwdCorrId: new Uint8Array(24), fwdVersion: 20, fwdKey: publicKey("x25519", new Uint8Array(32).fill(9)), encTransmission: new Uint8Array(10) })
      .catch((e) => e);
    const t = await server.next();
    server.respond(t.corrId, EMPTY, { tag: "ERR", err: ERR.CRYPTO });
    expect((await p).err).toEqual(ERR.CRYPTO);
  });
});
