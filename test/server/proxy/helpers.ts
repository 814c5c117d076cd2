// Shared pieces of the proxy tests: an SmpServer over in-memory streams (exact bytes, fixed session
// ids and keys), a fake destination that never answers, a TCP "black hole", a minimal SOCKS5
// server, and building PFWD by hand for malformed inner transmissions.
import { memoryStreamPair, type MemoryEnd } from "../../transport/memory-stream.ts";
import { deliverEarly } from "../../client/fake-server.ts";
import { testCredentials, testOptions, type TestOptions } from "../harness.ts";
import { SmpServer } from "../../../src/server/server.ts";
import { openSqliteStore } from "../../../src/store/sqlite/open.ts";
import type { Store } from "../../../src/store/store.ts";
import { SMPClient, type SMPClientConfig } from "../../../src/client/client.ts";
import { DhPrivateKey, x25519 } from "../../../src/crypto/dh.ts";
import { publicKey } from "../../../src/crypto/keys.ts";
import { cbDecrypt, cbEncrypt } from "../../../src/crypto/secretbox.ts";
import { reverseNonce } from "../../../src/crypto/nonce.ts";
import { Reader } from "../../../src/encoding/reader.ts";
import { BatchCursor } from "../../../src/protocol/batch.ts";
import type { ProxiedRelay } from "../../../src/client/proxy.ts";
import { parseServerTransmission, withVersion } from "../../../src/protocol/transmission.ts";
import { paddedProxiedTLength } from "../../../src/protocol/versions.ts";
import type { BrokerMsg } from "../../../src/protocol/broker-messages.ts";
import { unPad } from "../../../src/crypto/pad.ts";
import type { Socket, TCPSocketListener } from "bun";

export interface MemoryServer {
  readonly srv: SmpServer;
  readonly store: Store;
  /** A client connection over a memory stream pair with this session id. */
  connect(sessionId: Uint8Array, cfg?: Partial<SMPClientConfig>): Promise<{ client: SMPClient; serverEnd: MemoryEnd }>;
  close(): Promise<void>;
}

export async function memoryServer(o: TestOptions = {}, sessionKey?: DhPrivateKey): Promise<MemoryServer> {
  const options = testOptions(o, "");
  const store = openSqliteStore({ path: ":memory:", msgQueueQuota: options.store.msgQueueQuota });
  const srv = new SmpServer(options, store);
  if (sessionKey !== undefined) (srv.handshake as { sessionKey?: DhPrivateKey }).sessionKey = sessionKey;
  const clients: SMPClient[] = [];
  return {
    srv,
    store,
    async connect(sessionId, cfg = {}) {
      const creds = testCredentials();
      const { server: serverEnd, client: clientEnd } = memoryStreamPair({ sessionId, serverChain: creds.chainDer });
      void srv.runConnection(deliverEarly(serverEnd));
      const client = await SMPClient.connect({
        server: { hosts: ["relay.test"], port: "", keyHash: creds.fingerprint },
        openStream: async () => deliverEarly(clientEnd),
        ...cfg,
      });
      clients.push(client);
      return { client, serverEnd };
    },
    async close() {
      for (const c of clients) c.close();
      srv.closeAll();
      await store.close();
    },
  };
}

/** The block payloads a memory end wrote (unencrypted connections only). */
export function writtenPayloads(end: MemoryEnd): Uint8Array[] {
  return end.written.map((b) => unPad(b)).filter((p): p is Uint8Array => p !== null);
}

/** Accepts TCP connections and never says a word (a destination that hangs in TLS setup). */
export function blackHole(): { port: number; accepted: () => number; stop(): void } {
  let n = 0;
  const sockets: Socket<undefined>[] = [];
  const l: TCPSocketListener<undefined> = Bun.listen<undefined>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        n++;
        sockets.push(s);
      },
      data() {},
    },
  });
  return {
    port: l.port,
    accepted: () => n,
    stop() {
      for (const s of sockets) s.end();
      l.stop(true);
    },
  };
}

/** What the SOCKS5 test server saw: the CONNECT target and the credentials offered. */
export interface SocksSeen {
  atyp: number;
  host: string;
  port: number;
  username: string | null;
  password: string | null;
}

/**
 * A minimal SOCKS5 server (RFC 1928/1929) on 127.0.0.1: CONNECT only, optional
 * username/password; every target is reached at `route(host, port)`.
 */
export function socksServer(opts: {
  route: (host: string, port: number) => { host: string; port: number };
  /** Required username/password, "any" to accept whatever is offered, absent for no authentication. */
  credentials?: { username: string; password: string } | "any";
}) {
  const seen: SocksSeen[] = [];
  type St = { phase: "greet" | "auth" | "req" | "pipe"; buf: Uint8Array; up: Socket<{ down: Socket<St> }> | null; user: string | null; pass: string | null; pending: Uint8Array[] };
  const cat = (a: Uint8Array, b: Uint8Array) => {
    const r = new Uint8Array(a.length + b.length);
    r.set(a);
    r.set(b, a.length);
    return r;
  };
  const l = Bun.listen<St>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(s) {
        s.data = { phase: "greet", buf: new Uint8Array(0), up: null, user: null, pass: null, pending: [] };
      },
      async data(s, chunk) {
        const st = s.data;
        if (st.phase === "pipe") {
          if (st.up !== null) st.up.write(chunk);
          else st.pending.push(chunk.slice());
          return;
        }
        st.buf = cat(st.buf, chunk);
        const b = st.buf;
        if (st.phase === "greet") {
          if (b.length < 2 || b.length < 2 + b[1]!) return;
          const methods = [...b.subarray(2, 2 + b[1]!)];
          st.buf = b.subarray(2 + b[1]!);
          const want = opts.credentials !== undefined ? 2 : 0;
          if (!methods.includes(want)) {
            s.write(Uint8Array.from([5, 0xff]));
            s.end();
            return;
          }
          s.write(Uint8Array.from([5, want]));
          st.phase = want === 2 ? "auth" : "req";
          return;
        }
        if (st.phase === "auth") {
          if (b.length < 2) return;
          const ul = b[1]!;
          if (b.length < 3 + ul) return;
          const pl = b[2 + ul]!;
          if (b.length < 3 + ul + pl) return;
          st.user = new TextDecoder().decode(b.subarray(2, 2 + ul));
          st.pass = new TextDecoder().decode(b.subarray(3 + ul, 3 + ul + pl));
          st.buf = b.subarray(3 + ul + pl);
          const want = opts.credentials!;
          const ok = want === "any" || (st.user === want.username && st.pass === want.password);
          s.write(Uint8Array.from([1, ok ? 0 : 1]));
          if (!ok) s.end();
          st.phase = "req";
          return;
        }
        if (b.length < 5) return;
        const atyp = b[3]!;
        const alen = atyp === 1 ? 4 : atyp === 4 ? 16 : 1 + b[4]!;
        if (b.length < 4 + alen + 2) return;
        const a = b.subarray(4, 4 + alen);
        const host = atyp === 1 ? [...a].join(".") : atyp === 3 ? new TextDecoder().decode(a.subarray(1)) : "ipv6";
        const port = (b[4 + alen]! << 8) | b[5 + alen]!;
        seen.push({ atyp, host, port, username: st.user, password: st.pass });
        st.phase = "pipe";
        const rest = b.subarray(4 + alen + 2);
        if (rest.length > 0) st.pending.push(rest.slice());
        const target = opts.route(host, port);
        try {
          st.up = await Bun.connect<{ down: Socket<St> }>({
            hostname: target.host,
            port: target.port,
            data: { down: s },
            socket: {
              data(u, d) {
                u.data.down.write(d);
              },
              close(u) {
                u.data.down.end();
              },
            },
          });
        } catch {
          s.write(Uint8Array.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
          s.end();
          return;
        }
        s.write(Uint8Array.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
        for (const p of st.pending) st.up.write(p);
        st.pending = [];
      },
      close(s) {
        s.data.up?.end();
      },
    },
  });
  return { port: l.port, seen, stop: () => l.stop(true) };
}

/**
 * PFWD with an arbitrary inner block (what proxySMPCommand would seal), and the opened PRES
 * as the relay's single response transmission.
 */
export async function sendRawProxied(
  client: SMPClient,
  relay: ProxiedRelay,
  innerBlock: Uint8Array,
): Promise<BrokerMsg | { proxyErr: BrokerMsg } | { error: unknown }> {
  const corrId = crypto.getRandomValues(new Uint8Array(24));
  const cmdKey = DhPrivateKey.generate();
  const cmdSecret = x25519(relay.serverKey, cmdKey);
  const encTransmission = cbEncrypt(cmdSecret, corrId, innerBlock, paddedProxiedTLength);
  const r = await client.sendCommand(
    relay.sessionId,
    { tag: "PFWD", fwdVersion: relay.version, cmdKey: publicKey("x25519", cmdKey.publicRaw), encTransmission },
    null,
    { corrId },
  );
  if (r.tag !== "PRES") return { proxyErr: r };
  const block = cbDecrypt(cmdSecret, reverseNonce(corrId), r.encResponse);
  if (block === null) return { error: "PRES does not decrypt" };
  const cursor = new BatchCursor();
  if (!cursor.open(block) || cursor.count !== 1) return { error: "PRES is not one transmission" };
  cursor.next();
  const params = withVersion({ ...client.params, sessionId: relay.sessionId }, relay.version);
  const t = parseServerTransmission(block, cursor.start, cursor.end, params, new Reader(block));
  if (t.msg === null) return { error: t.error };
  return t.msg;
}
