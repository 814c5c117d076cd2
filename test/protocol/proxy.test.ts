// The proxied SEND of proxy.json (Client.hs:proxySMPCommand, forwardSMPTransmission,
// Server.hs:processForwardedCommand): every protocol-level piece parses and re-encodes to the reference bytes.
import { describe, expect, test } from "bun:test";
import { Reader } from "../../src/encoding/reader.ts";
import { BatchCursor, batch1 } from "../../src/protocol/batch.ts";
import { encodeResponse, parseServerTransmission, parseTransmission, transmissionParams } from "../../src/protocol/transmission.ts";
import { encodeCommand } from "../../src/protocol/commands.ts";
import { encodeFwdResponse, encodeFwdTransmission, parseFwdResponse, parseFwdTransmission } from "../../src/protocol/fwd.ts";
import { proxiedSMPRelayVRange } from "../../src/protocol/versions.ts";
import { loadVectors, hex, toHex, encode } from "./helpers.ts";

const X = loadVectors("proxy.json");
const S = X.steps;
const clientProxy = transmissionParams(20, hex(X.client_proxy_session_id));
const proxyRelay = transmissionParams(20, hex(X.relay_session_id));
const spki = (label: string) => X.keys.find((k: any) => k.label === label).public_spki_der;

function one(payloadHex: string) {
  const block = hex(payloadHex);
  const cur = new BatchCursor();
  expect(cur.open(block)).toBe(true);
  expect(cur.count).toBe(1);
  cur.next();
  return { block, start: cur.start, end: cur.end };
}

describe("proxy flow", () => {
  test("1 PKEY: relay session id, range 8..20, relay CertChainPubKey", () => {
    const { block, start, end } = one(S["1_PKEY"].block_payload);
    const got = parseServerTransmission(block, start, end, clientProxy, new Reader(block));
    expect(got.error).toBeNull();
    const m = got.msg!;
    if (m.tag !== "PKEY") throw new Error(m.tag);
    expect(toHex(m.sessionId)).toBe(X.relay_session_id);
    expect(m.versionRange).toEqual(proxiedSMPRelayVRange);
    expect([m.versionRange.min, m.versionRange.max]).toEqual(X.pkey_version_range);
    const t = encode((w) => encodeResponse(w, clientProxy, got.corrId, got.entityId, m));
    expect(toHex(t)).toBe(S["1_PKEY"].transmission);
  });

  test("2 inner SEND for the relay (batch of one, relay session, v20)", () => {
    const { block, start, end } = one(S["2_client"].inner_block);
    const t = parseTransmission(block, start, end, proxyRelay, new Reader(block));
    expect(t.error).toBeNull();
    expect(t.command!.tag).toBe("SEND");
    expect(toHex(t.corrId)).toBe(S["2_client"].nonce_and_corr_id);
    expect(toHex(t.auth)).toBe(S["2_client"].inner_signature);
    expect(toHex(t.authorized!)).toBe(S["2_client"].inner_authorized);
  });

  test("3 PFWD (client → proxy) and 5 RFWD (proxy → relay)", () => {
    for (const [step, p, tag] of [
      ["3_PFWD", clientProxy, "PFWD"],
      ["5_RFWD", proxyRelay, "RFWD"],
    ] as const) {
      const v = S[step];
      const { block, start, end } = one(v.block_payload);
      const t = parseTransmission(block, start, end, p, new Reader(block));
      expect(t.error).toBeNull();
      expect(t.command!.tag).toBe(tag);
      expect(toHex(t.corrId)).toBe(v.corr_id);
      expect(toHex(t.entityId)).toBe(v.entity_id);
      expect(toHex(encode((w) => encodeCommand(w, t.command!, 20)))).toBe(v.command);
      expect(toHex(batch1(hex(v.transmission)))).toBe(v.block_payload);
    }
  });

  test("4 FwdTransmission", () => {
    const b = hex(S["4_proxy"].fwd_transmission);
    const f = parseFwdTransmission(new Reader(b));
    expect(toHex(f.fwdCorrId)).toBe(S["2_client"].nonce_and_corr_id);
    expect(f.fwdVersion).toBe(20);
    expect(toHex(f.fwdKey.der)).toBe(spki("proxy-cmd-x25519"));
    expect(toHex(f.encTransmission)).toBe(S["2_client"].enc_transmission);
    expect(toHex(encode((w) => encodeFwdTransmission(w, f)))).toBe(S["4_proxy"].fwd_transmission);
  });

  test("6 relay response block (OK) and FwdResponse", () => {
    const { block, start, end } = one(S["6_relay"].response_block);
    const got = parseServerTransmission(block, start, end, proxyRelay, new Reader(block));
    expect(got.msg).toEqual({ tag: "OK" });
    const fr = parseFwdResponse(new Reader(hex(S["6_relay"].fwd_response)));
    expect(toHex(fr.fwdCorrId)).toBe(S["2_client"].nonce_and_corr_id);
    expect(toHex(fr.encResponse)).toBe(S["6_relay"].enc_response);
    expect(toHex(encode((w) => encodeFwdResponse(w, fr)))).toBe(S["6_relay"].fwd_response);
  });

  test("7 RRES (relay → proxy) and 8 PRES (proxy → client)", () => {
    for (const [step, p] of [
      ["7_RRES", proxyRelay],
      ["8_PRES", clientProxy],
    ] as const) {
      const v = S[step];
      const { block, start, end } = one(v.block_payload);
      const got = parseServerTransmission(block, start, end, p, new Reader(block));
      expect(got.error).toBeNull();
      const t = encode((w) => encodeResponse(w, p, got.corrId, got.entityId, got.msg!));
      expect(toHex(t)).toBe(v.transmission);
    }
  });
});
