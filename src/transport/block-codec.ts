/**
 * What goes into and comes out of a 16384-byte block (Transport.hs:tPutBlock / tGetBlock):
 * `pad(payload, 16384)`, or from v11 with a client key `sbEncrypt(chain key, payload, 16368)`,
 * ratcheting that direction's chain once per block — also when the block then fails.
 */
import { padInto, unPad } from "../crypto/pad.ts";
import { openBlock, sealBlock, TAG_LEN } from "../crypto/secretbox.ts";
import type { ChainState } from "../crypto/sbchain.ts";
import { BLOCK_SIZE, takeOutgoingBlock } from "./block.ts";

/** Largest payload of an unencrypted block. */
export const MAX_PLAIN_PAYLOAD = BLOCK_SIZE - 2;
/** Largest payload of an encrypted block (16 tag + 2 length). */
export const MAX_ENCRYPTED_PAYLOAD = BLOCK_SIZE - 18;

export class BlockEncoder {
  constructor(private readonly chain: ChainState | null) {}

  /**
   * From the outgoing pool (block.ts), so fully overwritten here. The caller hands it to
   * BlockTransport.writeBlock(block, true), which recycles it only once the stream reports it
   * consumed (node:tls keeps a reference to a written buffer until it has encrypted it).
   */
  encode(payload: Uint8Array): Uint8Array {
    const block = takeOutgoingBlock();
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
  constructor(private readonly chain: ChainState | null) {}

  /**
   * The block's payload, or null for a bad block (→ ERR BLOCK). Decrypted in place: the payload
   * is a view into `block` (valid as long as the block is), so a connection holds no buffer of
   * its own for received blocks.
   */
  decode(block: Uint8Array): Uint8Array | null {
    if (this.chain === null) return unPad(block);
    this.chain.advance();
    return openBlock(this.chain.key, this.chain.nonce, block, block.subarray(TAG_LEN));
  }
}
