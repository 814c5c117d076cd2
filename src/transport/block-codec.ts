/**
 * What goes into and comes out of a 16384-byte block (Transport.hs:tPutBlock / tGetBlock):
 * `pad(payload, 16384)`, or from v11 with a client key `sbEncrypt(chain key, payload, 16368)`,
 * ratcheting that direction's chain once per block — also when the block then fails.
 */
import { padInto, unPad } from "../crypto/pad.ts";
import { openBlock, sealBlock } from "../crypto/secretbox.ts";
import type { ChainState } from "../crypto/sbchain.ts";
import { BLOCK_SIZE } from "./block.ts";

/** Largest payload of an unencrypted block. */
export const MAX_PLAIN_PAYLOAD = BLOCK_SIZE - 2;
/** Largest payload of an encrypted block (16 tag + 2 length). */
export const MAX_ENCRYPTED_PAYLOAD = BLOCK_SIZE - 18;

export class BlockEncoder {
  constructor(private readonly chain: ChainState | null) {}

  /**
   * A new block each time: node:tls may keep a reference to a written buffer until the socket
   * takes it, so an outgoing block is never reused.
   */
  encode(payload: Uint8Array): Uint8Array {
    const block = new Uint8Array(BLOCK_SIZE);
    if (this.chain === null) {
      padInto(payload, block, 0, BLOCK_SIZE);
    } else {
      this.chain.advance();
      sealBlock(this.chain.key, this.chain.nonce, payload, block);
    }
    return block;
  }
}

export class BlockDecoder {
  private readonly plain: Uint8Array;
  constructor(private readonly chain: ChainState | null) {
    this.plain = new Uint8Array(chain === null ? 0 : BLOCK_SIZE);
  }

  /** The block's payload (a view valid until the next decode), or null for a bad block (→ ERR BLOCK). */
  decode(block: Uint8Array): Uint8Array | null {
    if (this.chain === null) return unPad(block);
    this.chain.advance();
    return openBlock(this.chain.key, this.chain.nonce, block, this.plain);
  }
}
