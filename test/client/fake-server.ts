// A scripted SMP router for client tests: the real server-side handshake (fixture certificates from
// handshake.json) over an in-memory stream pair, then whatever the test script answers.
import { loadVectors, hex } from "../vectors.ts";
import { memoryStreamPair, type MemoryEnd } from "../transport/memory-stream.ts";
import { BlockTransport } from "../../src/transport/block.ts";
import { serverHandshake } from "../../src/transport/server-handshake.ts";
import type { ServerAuth, SmpHandle } from "../../src/transport/handle.ts";
import type { TransportStream } from "../../src/transport/stream.ts";
import { DhPrivateKey } from "../../src/crypto/dh.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { Reader } from "../../src/encoding/reader.ts";
import { Writer } from "../../src/encoding/writer.ts";
import { BatchCursor, BatchPacker, batch1 } from "../../src/protocol/batch.ts";
import { encodeResponse, parseTransmission } from "../../src/protocol/transmission.ts";
import type { BrokerMsg } from "../../src/protocol/broker-messages.ts";
import type { Command } from "../../src/protocol/commands.ts";
import { versionRange, type VersionRange } from "../../src/protocol/versions.ts";
import type { ServiceRole } from "../../src/protocol/credentials.ts";
import { SMPClient, type SMPClientConfig } from "../../src/client/client.ts";

export const HS = loadVectors("handshake.json");
export const hsKey = (label: string) => HS.keys.find((k: any) => k.label === label);
export const SESSION_ID = hex(HS.session_id);
export const CHAIN = [hex(HS.fixtures.server_crt_der), hex(HS.fixtures.ca_crt_der)];
export const KEY_HASH = hex(HS.fixtures.key_hash_sha256_ca);
export const SERVER_SIGN_KEY = new SignPrivateKey("ed25519", hex(HS.fixtures.server_key_ed25519_raw));
export const SERVER_SESSION_KEY = () => new DhPrivateKey(hex(hsKey(HS.server_session_key).private_raw));

/** One transmission as the fake server received it (owned copies). */
export interface Received {
  corrId: Uint8Array;
  entityId: Uint8Array;
  command: Command | null;
  auth: Uint8Array;
  serviceSig: Uint8Array | null;
  /** What the authorization covers (null when unauthorized). */
  authorized: Uint8Array | null;
  error: unknown;
  /** Index of the block it arrived in. */
  block: number;
  /** Length of the transmission in its block. */
  length: number;
}

export interface FakeServer {
  readonly handle: SmpHandle<ServerAuth>;
  readonly serverEnd: MemoryEnd;
  /** The next transmission from the client. */
  next(): Promise<Received>;
  /** Answers with one transmission per block. */
  respond(corrId: Uint8Array, entityId: Uint8Array, msg: BrokerMsg): void;
  /** Several answers packed into one block. */
  respondBatch(items: readonly { corrId: Uint8Array; entityId: Uint8Array; msg: BrokerMsg }[]): void;
  /** Writes a raw block payload. */
  writePayload(payload: Uint8Array): void;
  /** Blocks received so far. */
  readonly blocks: number;
  /** Every block payload received (decrypted, unpadded), in order. */
  readonly payloads: Uint8Array[];
  close(): void;
}

export interface FakeOptions {
  sessionId?: Uint8Array;
  serverRange?: VersionRange;
  clientRange?: VersionRange;
  alpn?: string | null;
  client?: Partial<SMPClientConfig>;
  getService?: (role: ServiceRole) => Uint8Array;
  clientChain?: readonly Uint8Array[];
  /** The router's per-connection X25519 key (default: server-session-x25519). */
  serverSessionKey?: DhPrivateKey;
}

/**
 * The memory stream keeps bytes that arrive before `setHandlers` until `resume()`; a TLS stream
 * hands them over on `setHandlers` (TlsConn flushes its early data). Make the memory end do the same.
 */
export function deliverEarly(end: MemoryEnd): TransportStream {
  return {
    get sessionId() {
      return end.sessionId;
    },
    get alpn() {
      return end.alpn;
    },
    get peerCertificateChain() {
      return end.peerCertificateChain;
    },
    setHandlers(h) {
      end.setHandlers(h);
      end.resume();
    },
    write: (d) => end.write(d),
    pause: () => end.pause(),
    resume: () => end.resume(),
    close: () => end.close(),
  };
}

export async function startFake(opts: FakeOptions = {}): Promise<{ client: SMPClient; server: FakeServer }> {
  const sessionId = opts.sessionId ?? SESSION_ID;
  const { server: serverEnd, client: clientEnd } = memoryStreamPair({
    sessionId,
    alpn: opts.alpn,
    serverChain: CHAIN,
    clientChain: opts.clientChain ?? [],
  });
  const st = new BlockTransport(serverEnd);
  const hs = serverHandshake(st, {
    chainDer: CHAIN,
    signKey: SERVER_SIGN_KEY,
    keyHash: KEY_HASH,
    versionRange: opts.serverRange ?? versionRange(6, 20),
    sessionKey: opts.serverSessionKey ?? SERVER_SESSION_KEY(),
    getService: async (role) => opts.getService?.(role) ?? ({ type: "HANDSHAKE", err: "BAD_SERVICE" } as const),
  });
  const clientP = SMPClient.connect({
    server: { hosts: ["fake.example"], port: "", keyHash: KEY_HASH },
    openStream: async () => deliverEarly(clientEnd),
    versionRange: opts.clientRange,
    ...opts.client,
  });
  const h = await hs;
  if (typeof h === "string") throw new Error(`server handshake failed: ${h}`);
  const client = await clientP;

  const received: Received[] = [];
  let waiters: ((r: Received) => void)[] = [];
  let blocks = 0;
  const payloads: Uint8Array[] = [];
  void (async () => {
    const cursor = new BatchCursor();
    const r = new Reader(new Uint8Array(0));
    for (;;) {
      const p = await h.readPayload();
      if (p === null) return;
      if (p === "bad" || !cursor.open(p)) throw new Error("fake server got a bad block");
      const block = blocks++;
      payloads.push(p.slice());
      while (cursor.next()) {
        const t = parseTransmission(p, cursor.start, cursor.end, h.params, r);
        const item: Received = {
          corrId: t.corrId.slice(),
          entityId: t.entityId.slice(),
          command: t.command === null ? null : structuredClone(t.command),
          auth: t.auth.slice(),
          serviceSig: t.serviceSig,
          authorized: t.authorized?.slice() ?? null,
          error: t.error,
          block,
          length: cursor.end - cursor.start,
        };
        const w = waiters.shift();
        if (w !== undefined) w(item);
        else received.push(item);
      }
    }
  })();

  const w = new Writer(16384);
  const encode = (corrId: Uint8Array, entityId: Uint8Array, msg: BrokerMsg) => {
    w.reset();
    encodeResponse(w, h.params, corrId, entityId, msg);
    return w.toBytes();
  };
  const server: FakeServer = {
    handle: h,
    serverEnd,
    next: () => {
      const r = received.shift();
      if (r !== undefined) return Promise.resolve(r);
      return new Promise((resolve) => waiters.push(resolve));
    },
    respond: (corrId, entityId, msg) => {
      h.writePayload(batch1(encode(corrId, entityId, msg)));
    },
    respondBatch: (items) => {
      const packer = new BatchPacker();
      for (const it of items) if (packer.add(encode(it.corrId, it.entityId, it.msg)) !== "added") throw new Error("batch too large");
      h.writePayload(packer.payload());
    },
    writePayload: (p) => {
      h.writePayload(p);
    },
    get blocks() {
      return blocks;
    },
    payloads,
    close: () => h.close(),
  };
  return { client, server };
}
