// The proxy layers byte for byte against proxy.json (computed with simplexmq's own
// Client.hs:proxySMPCommand / forwardSMPTransmission and Server.hs:processForwardedCommand
// building blocks, fixed keys and nonces): the destination's RFWD → RRES and the proxy's
// PFWD → RFWD → PRES, both as functions and through the real connection loop.
import { afterEach, describe, expect, test } from "bun:test";
import { hex, loadVectors, toHex } from "../../vectors.ts";
import { startFake } from "../../client/fake-server.ts";
import { memoryServer, writtenPayloads, type MemoryServer } from "./helpers.ts";
import { newQueue, spki } from "../../store/helpers.ts";
import type { MemoryEnd } from "../../transport/memory-stream.ts";
import { DhPrivateKey } from "../../../src/crypto/dh.ts";
import { cbDecryptNoPad, cbEncryptNoPad } from "../../../src/crypto/secretbox.ts";
import { reverseNonce } from "../../../src/crypto/nonce.ts";
import { Writer } from "../../../src/encoding/writer.ts";
import { ERR } from "../../../src/protocol/errors.ts";
import { encodeResponse, transmissionParams } from "../../../src/protocol/transmission.ts";
import { ProxyAgent } from "../../../src/server/proxy/agent.ts";
import { openForwarded, sealForwardedResponse } from "../../../src/server/proxy/relay.ts";
import { relayKey } from "../../../src/server/proxy/proxy.ts";
import type { SMPClient } from "../../../src/client/client.ts";

const X = loadVectors("proxy.json");
const S = X.steps;
const T = loadVectors("transmissions.json");
const key = (label: string) => X.keys.find((k: any) => k.label === label);
const relayPriv = () => new DhPrivateKey(hex(key(X.relay_server_session_key).private_raw));
const sessSecret = hex(X.proxy_relay_sess_secret);
const rfwdNonce = hex(S["4_proxy"].rfwd_nonce_and_corr_id);
const clientNonce = hex(S["2_client"].nonce_and_corr_id);
const EMPTY = new Uint8Array(0);

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f();
  cleanup = [];
});

describe("destination layers (Server.hs:processForwardedCommand)", () => {
  test("RFWD opens to the client's FwdTransmission, secret and inner block", () => {
    const r = openForwarded(sessSecret, relayPriv(), rfwdNonce, hex(S["4_proxy"].enc_fwd_transmission));
    if (!("block" in r)) throw new Error(`failed: ${JSON.stringify(r)}`);
    expect(toHex(r.fwd.fwdCorrId)).toBe(S["2_client"].nonce_and_corr_id);
    expect(r.fwd.fwdVersion).toBe(20);
    expect(toHex(r.fwd.fwdKey.raw)).toBe(key(S["2_client"].cmd_key).public_raw);
    expect(toHex(r.fwd.encTransmission)).toBe(S["2_client"].enc_transmission);
    expect(toHex(r.clientSecret)).toBe(S["6_relay"].client_secret);
    expect(toHex(r.block)).toBe(S["2_client"].inner_block);
  });

  test("the response block seals to the reference's RRES payload; its inner layer is FwdResponse with enc_response", () => {
    const sealed = sealForwardedResponse(sessSecret, hex(S["6_relay"].client_secret), rfwdNonce, clientNonce, hex(S["6_relay"].response_block));
    expect(toHex(sealed!)).toBe(S["6_relay"].enc_fwd_response);
    // Layer by layer: the p2r layer uses the reversed RFWD nonce (not corrId + 1, [SPEC≠CODE]).
    const fr = cbDecryptNoPad(sessSecret, reverseNonce(rfwdNonce), sealed!);
    expect(toHex(fr!)).toBe(S["6_relay"].fwd_response);
    expect(toHex(reverseNonce(clientNonce))).toBe(S["6_relay"].reversed_client_nonce);
    expect(toHex(fr!.subarray(25))).toBe(S["6_relay"].enc_response);
  });

  test("each layer failing gives the reference's outer error", () => {
    const enc = hex(S["4_proxy"].enc_fwd_transmission);
    // p2r layer: another session's secret.
    expect(openForwarded(new Uint8Array(32).fill(1), relayPriv(), rfwdNonce, enc)).toEqual(ERR.CRYPTO);
    // p2r layer: another RFWD nonce.
    expect(openForwarded(sessSecret, relayPriv(), clientNonce, enc)).toEqual(ERR.CRYPTO);
    // s2r layer: another connection's key gives another client secret.
    expect(openForwarded(sessSecret, DhPrivateKey.generate(), rfwdNonce, enc)).toEqual(ERR.CRYPTO);
    // FwdTransmission that does not parse (an Ed25519 key where the X25519 key belongs).
    const bad = new Writer(200).short(clientNonce).word16(20).short(hex(key("snd-auth-ed25519").public_spki_der)).bytes(new Uint8Array(40)).toBytes();
    expect(openForwarded(sessSecret, relayPriv(), rfwdNonce, cbEncryptNoPad(sessSecret, rfwdNonce, bad))).toEqual(ERR.CMD_SYNTAX);
    // A response that cannot be padded to 16226 is refused (→ ERR BLOCK).
    expect(sealForwardedResponse(sessSecret, sessSecret, rfwdNonce, clientNonce, new Uint8Array(16225))).toBeNull();
  });
});

describe("through the connection loop", () => {
  async function relayServer(): Promise<{ m: MemoryServer; proxyClient: SMPClient; serverEnd: MemoryEnd }> {
    const m = await memoryServer({}, relayPriv());
    cleanup.push(() => m.close());
    // The queue of the vector's SEND: sender id and key from transmissions.json / proxy.json.
    await m.store.queues.createQueue(
      newQueue({
        recipientId: hex(T.ids.rcvId),
        rcvDhSecret: new Uint8Array(32).fill(7),
        senderId: hex(T.ids.sndId),
        senderKey: spki("snd-auth-ed25519"),
        updatedAt: null,
      }),
    );
    await m.store.flush();
    const { client, serverEnd } = await m.connect(hex(X.relay_session_id), {
      proxyServer: true,
      sessionKey: new DhPrivateKey(hex(key(X.proxy_client_session_key).private_raw)),
    });
    return { m, proxyClient: client, serverEnd };
  }

  test("the destination answers the reference's RFWD with the reference's RRES, and stores the message", async () => {
    const { m, proxyClient, serverEnd } = await relayServer();
    expect(proxyClient.handle.blockEncryption).toBe(false);
    proxyClient.sendRawPayload(hex(S["5_RFWD"].block_payload));
    const r = await proxyClient.expectResponse(rfwdNonce, EMPTY);
    expect(r.tag).toBe("RRES");
    const payloads = writtenPayloads(serverEnd);
    expect(toHex(payloads[payloads.length - 1]!)).toBe(S["7_RRES"].block_payload);
    const q = await m.store.queues.getQueueBySenderId(hex(T.ids.sndId));
    const msg = await m.store.messages.peekMsg(q!);
    expect(new TextDecoder().decode(msg!.body)).toBe("hello via proxy");
    expect(msg!.notification).toBe(true);
  });

  test("the proxy turns the reference's PFWD into its RFWD and the RRES into its PRES", async () => {
    // The destination: a scripted router with the vector's session and keys.
    const relay = await startFake({
      sessionId: hex(X.relay_session_id),
      serverSessionKey: relayPriv(),
      client: { proxyServer: true, sessionKey: new DhPrivateKey(hex(key(X.proxy_client_session_key).private_raw)) },
    });
    cleanup.push(() => relay.client.close());
    // PKEY as the reference proxy sends it for this destination connection.
    const w = new Writer(2000);
    encodeResponse(w, transmissionParams(20, hex(X.client_proxy_session_id)), hex(S["1_PKEY"].corr_id), EMPTY, relayKey(relay.client));
    expect(toHex(w.view_())).toBe(S["1_PKEY"].transmission);

    const m = await memoryServer({ proxy: { enabled: true, clientConcurrency: 32 } });
    cleanup.push(() => m.close());
    const agent = new ProxyAgent(m.srv.options.proxy, async () => relay.client);
    agent.nonce = () => rfwdNonce.slice();
    m.srv.proxy = agent;
    await agent.connect({ hosts: ["relay.example"], port: "", keyHash: new Uint8Array(32) });

    const { client, serverEnd } = await m.connect(hex(X.client_proxy_session_id), { agreeSecret: false });
    client.sendRawPayload(hex(S["3_PFWD"].block_payload));
    const rfwd = await relay.server.next();
    expect(rfwd.command!.tag).toBe("RFWD");
    expect(toHex(relay.server.payloads[0]!)).toBe(S["5_RFWD"].block_payload);
    relay.server.writePayload(hex(S["7_RRES"].block_payload));
    const pres = await client.expectResponse(clientNonce, hex(X.relay_session_id));
    expect(pres.tag).toBe("PRES");
    const payloads = writtenPayloads(serverEnd);
    expect(toHex(payloads[payloads.length - 1]!)).toBe(S["8_PRES"].block_payload);
  });
});
