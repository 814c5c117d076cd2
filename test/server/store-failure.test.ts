// A store that fails under a running server (a damaged page, an I/O error, a full disk at commit):
// each command whose effect was not committed is answered `ERR STORE <kind>` and the connection
// stays usable — not dropped, which clients see as a network failure and retry forever.
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SMPClient } from "../../src/client/client.ts";
import { SMPError } from "../../src/client/errors.ts";
import { generateAuthKey } from "../../src/client/keys.ts";
import { utf8 } from "../../src/encoding/bytes.ts";
import { startServer } from "../../src/server/index.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import type { Store } from "../../src/store/store.ts";
import { StoreError } from "../../src/store/types.ts";
import { testOptions } from "./harness.ts";
import { connect } from "./helpers.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** The real store, with the next group commit reported as failed (what SQLite does on SQLITE_IOERR at COMMIT). */
function failingCommits(inner: Store): { store: Store; failNext(kind: "io" | "corrupt"): void } {
  let fail: StoreError | null = null;
  const store = new Proxy(inner, {
    get(target, prop) {
      if (prop === "flush")
        return () => {
          const e = fail;
          fail = null;
          return e === null ? target.flush() : Promise.reject(e);
        };
      const v = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { store, failNext: (kind) => (fail = new StoreError(kind, `store: injected ${kind} failure (commit)`)) };
}

async function serverWithFailingCommits(): Promise<{ address: string; failNext(kind: "io" | "corrupt"): void }> {
  const dir = mkdtempSync(join(tmpdir(), "smp-storefail-"));
  const f = failingCommits(openSqliteStore({ path: join(dir, "smp-server.sqlite") }));
  const running = await startServer(testOptions({}, dir), f.store);
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanup.push(() => running.close());
  const fp = Buffer.from(running.server.options.credentials.fingerprint).toString("base64url");
  return { address: `smp://${fp}@127.0.0.1:${running.ports[0]}`, failNext: f.failNext };
}

async function client(address: string): Promise<SMPClient> {
  const c = await connect({ address });
  cleanup.push(() => c.close());
  return c;
}

test("a failed commit answers the command ERR STORE and keeps the connection", async () => {
  const f = await serverWithFailingCommits();
  const c = await client(f.address);

  f.failNext("io");
  const e = await c.createQueue({ subMode: "S" }).then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(SMPError);
  expect((e as SMPError).err).toEqual({ type: "STORE", err: "io" });
  // Same connection, next command: served.
  await c.ping();
  const q = await c.createQueue({ subMode: "S" });
  expect(q.rcvId.length).toBe(24);
});

test("a subscriber whose delivery was in the failed commit is disconnected (it resubscribes), the sender gets ERR STORE", async () => {
  const f = await serverWithFailingCommits();
  const rcv = await client(f.address);
  const snd = await client(f.address);
  const q = await rcv.createQueue({ subMode: "S" });
  const k = generateAuthKey("ed25519");
  await snd.secureBySender(q.sndId, k);
  f.failNext("io");
  const e = await snd.sendMessage(q.sndId, utf8("lost"), { key: k }).then(
    () => null,
    (err: unknown) => err,
  );
  expect((e as SMPError).err).toEqual({ type: "STORE", err: "io" });
  // The MSG it was pushed is dropped with the commit: the connection is closed rather than left
  // waiting for the ACK of a message its client never saw.
  await rcv.closed;
  await snd.ping();
});
