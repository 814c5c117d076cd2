/**
 * An SMP connection after the handshake (Transport.hs:THandle): the negotiated parameters,
 * the block stream and the per-direction block encryption.
 */
import type { DhPrivateKey } from "../crypto/dh.ts";
import type { PublicKey } from "../crypto/keys.ts";
import type { ServiceRole } from "../protocol/credentials.ts";
import type { CertChainPubKey } from "../protocol/cert-chain.ts";
import type { TransmissionParams } from "../protocol/transmission.ts";
import type { VersionRange } from "../protocol/versions.ts";
import type { BlockTransport } from "./block.ts";
import { BlockDecoder, BlockEncoder } from "./block-codec.ts";

/** A service client's identity, established in the handshake (Transport.hs:THClientService). */
export interface PeerService {
  readonly serviceId: Uint8Array;
  readonly role: ServiceRole;
  /** SHA-256 of the service's identity certificate. */
  readonly certHash: Uint8Array;
  /** The Ed25519 key that signs the service's transmissions. */
  readonly serviceKey: PublicKey;
}

/** Server side of THandleAuth (THAuthServer). */
export interface ServerAuth {
  /** The per-connection key whose public half was signed in the server hello. */
  readonly serverPrivKey: DhPrivateKey;
  /** DH(client hello key, serverPrivKey), when the client sent a key. */
  readonly sessSecret: Uint8Array | null;
  readonly peerService: PeerService | null;
}

/** Client side of THandleAuth (THAuthClient). */
export interface ClientAuth {
  /** The server's per-connection X25519 key from its hello. */
  readonly peerServerPubKey: Uint8Array;
  /** The server's chain and signed key, exactly as received (a proxy passes it on in PKEY). */
  readonly peerServerCertKey: CertChainPubKey;
  /** DH(server key, our hello key), when we sent one. */
  readonly sessSecret: Uint8Array | null;
  readonly serviceId: Uint8Array | null;
}

export class SmpHandle<A extends ServerAuth | ClientAuth | null = ServerAuth | ClientAuth | null> {
  private readonly encoder: BlockEncoder;
  private readonly decoder: BlockDecoder;

  constructor(
    readonly transport: BlockTransport,
    readonly params: TransmissionParams,
    /** The server's range capped at the chosen version (thServerVRange). */
    readonly serverVRange: VersionRange,
    readonly auth: A,
    encrypt: { send: import("../crypto/sbchain.ts").ChainState; receive: import("../crypto/sbchain.ts").ChainState } | null,
  ) {
    this.encoder = new BlockEncoder(encrypt?.send ?? null);
    this.decoder = new BlockDecoder(encrypt?.receive ?? null);
    this.blockEncryption = encrypt !== null;
  }

  readonly blockEncryption: boolean;

  get version(): number {
    return this.params.version;
  }

  get sessionId(): Uint8Array {
    return this.params.sessionId;
  }

  /**
   * The next block's payload: a view valid until the next call; "bad" for a block that fails
   * to decrypt or unpad (the server answers ERR BLOCK and keeps the connection); null once closed.
   */
  async readPayload(): Promise<Uint8Array | "bad" | null> {
    const block = await this.transport.readBlock();
    if (block === null) return null;
    return this.decoder.decode(block) ?? "bad";
  }

  /** Encodes and sends one block; false = wait for `transport.drain()` before the next. */
  writePayload(payload: Uint8Array): boolean {
    return this.transport.writeBlock(this.encoder.encode(payload), true);
  }

  close(): void {
    this.transport.close();
  }
}
