import { describe, expect, test } from "bun:test";
import { hkdf } from "../../src/crypto/hkdf.ts";
import { ChainState, clientChains, sbcHkdf, sbcInit, serverChains } from "../../src/crypto/sbchain.ts";
import { openBlock, sealBlock } from "../../src/crypto/secretbox.ts";
import { hex, loadVectors, toHex } from "../vectors.ts";

// crypto.json `sbcInit`: Crypto.hs:sbcInit / sbcHkdf with 3 steps of each chain.
const v = loadVectors("crypto.json").sbcInit;
const sessionId = hex(v.session_id);
const secret = hex(v.dh_secret);

describe("HKDF-SHA512 and secretbox chains (Crypto.hs)", () => {
  test("hkdf(sessionId, dh, SimpleXSbChainInit, 64) = hkdf_64", () => {
    expect(toHex(hkdf(sessionId, secret, new TextEncoder().encode("SimpleXSbChainInit"), 64))).toBe(v.hkdf_64);
  });

  test("sbcInit gives chain keys 1 and 2", () => {
    const [ck1, ck2] = sbcInit(sessionId, secret);
    expect(toHex(ck1)).toBe(v.chain_key_1);
    expect(toHex(ck2)).toBe(v.chain_key_2);
  });

  for (const [n, steps] of [
    [1, v.sbcHkdf_steps_chain_1],
    [2, v.sbcHkdf_steps_chain_2],
  ] as const) {
    test(`sbcHkdf: 3 steps of chain ${n}`, () => {
      let ck = hex(n === 1 ? v.chain_key_1 : v.chain_key_2);
      for (const s of steps) {
        const r = sbcHkdf(ck);
        expect(toHex(r.key)).toBe(s.sb_key);
        expect(toHex(r.nonce)).toBe(s.nonce);
        expect(toHex(r.next)).toBe(s.next_chain_key);
        ck = r.next;
      }
    });

    test(`ChainState advances chain ${n} in place`, () => {
      const chain = new ChainState(hex(n === 1 ? v.chain_key_1 : v.chain_key_2));
      for (const s of steps) {
        chain.advance();
        expect(toHex(chain.key)).toBe(s.sb_key);
        expect(toHex(chain.nonce)).toBe(s.nonce);
      }
    });
  }

  test("server sends with ck1 and receives with ck2; the client swaps (Transport.hs:smpTHandleClient)", () => {
    const server = serverChains(sessionId, secret);
    const client = clientChains(sessionId, secret);
    server.send.advance();
    client.receive.advance();
    expect(toHex(server.send.key)).toBe(v.sbcHkdf_steps_chain_1[0].sb_key);
    expect(toHex(client.receive.key)).toBe(v.sbcHkdf_steps_chain_1[0].sb_key);
    server.receive.advance();
    client.send.advance();
    expect(toHex(server.receive.nonce)).toBe(v.sbcHkdf_steps_chain_2[0].nonce);
    expect(toHex(client.send.nonce)).toBe(v.sbcHkdf_steps_chain_2[0].nonce);
  });

  test("handshake.json chain keys agree with sbcInit", () => {
    const h = loadVectors("handshake.json");
    const keys = (h.cases as any[]).find((c) => c.block_encryption_chain_keys)!.block_encryption_chain_keys;
    const [ck1, ck2] = sbcInit(sessionId, secret);
    expect(toHex(ck1)).toBe(keys.server_snd_chain_key);
    expect(toHex(ck2)).toBe(keys.server_rcv_chain_key);
  });

  test("handshake.json encrypted_blocks_v20: Transport.hs:tPutBlock = sealBlock with successive chain keys", () => {
    const h = loadVectors("handshake.json");
    const server = serverChains(hex(h.session_id), secret);
    const client = clientChains(hex(h.session_id), secret);
    const block = new Uint8Array(16384);
    for (const r of h.encrypted_blocks_v20 as any[]) {
      client.send.advance();
      sealBlock(client.send.key, client.send.nonce, hex(r.client_to_server_plain), block);
      // Blocks after the first are given as a hex prefix followed by a "...(first 64 bytes only)" note.
      const want = (r.client_to_server_block as string).match(/^[0-9a-f]+/)![0];
      expect(toHex(block.subarray(0, want.length / 2))).toBe(want);
      server.receive.advance();
      const got = openBlock(server.receive.key, server.receive.nonce, block, new Uint8Array(16368));
      expect(toHex(got!)).toBe(r.client_to_server_plain);

      server.send.advance();
      sealBlock(server.send.key, server.send.nonce, hex(r.server_to_client_plain), block);
      expect(toHex(block.subarray(0, 64))).toBe(r.server_to_client_block_first64);
    }
  });

  test("ChainState copies the initial key (caller's buffer is not ratcheted)", () => {
    const ck = hex(v.chain_key_1);
    new ChainState(ck).advance();
    expect(toHex(ck)).toBe(v.chain_key_1);
    expect(() => new ChainState(new Uint8Array(31))).toThrow(RangeError);
  });
});
