/**
 * Queues for the subscription benchmark, written straight into a stopped server's store: every
 * queue has the same recipient key (its private half is fixed here, so the SUB client can sign)
 * and ids derived from the index (bench-queue.ts).
 */
import { encodePubKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";
import { benchId, benchQueue } from "./bench-queue.ts";

const PRIVATE = new Uint8Array(32).fill(7);
export const subKey = new SignPrivateKey("ed25519", PRIVATE);

/** The recipient id of queue `i`. */
export const subRcvId = (i: number): Uint8Array => benchId(1, i);

/** Creates `n` queues in the store file at `path` (the server must not be running). */
export async function createSubQueues(path: string, n: number): Promise<void> {
  const s = openSqliteStore({ path });
  const key = encodePubKey("ed25519", subKey.publicRaw);
  try {
    for (let i = 0; i < n; i++) {
      if ((await s.queues.createQueue(benchQueue(i, key))) === "DUPLICATE") throw new Error("sub-queues: duplicate id");
      if (i % 5000 === 4999) await s.flush();
    }
    await s.flush();
  } finally {
    await s.close();
  }
}
