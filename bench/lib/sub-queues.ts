/**
 * Queues for the subscription benchmark, written straight into a stopped server's store: every
 * queue has the same recipient key (its private half is fixed here, so the SUB client can sign)
 * and ids derived from the index, so neither side keeps a list of 100,000 ids around.
 */
import { encodePubKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { openSqliteStore } from "../../src/store/sqlite/open.ts";

const PRIVATE = new Uint8Array(32).fill(7);
export const subKey = new SignPrivateKey("ed25519", PRIVATE);

/** The recipient id of queue `i`. */
export function subRcvId(i: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(4, i);
  b[0] = 0x53;
  return (Bun.SHA256.hash(b) as Uint8Array).subarray(0, 24);
}

function sndId(i: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(4, i);
  b[0] = 0x73;
  return (Bun.SHA256.hash(b) as Uint8Array).subarray(0, 24);
}

/** Creates `n` queues in the store file at `path` (the server must not be running). */
export async function createSubQueues(path: string, n: number): Promise<void> {
  const s = openSqliteStore({ path });
  const key = encodePubKey("ed25519", subKey.publicRaw);
  const secret = new Uint8Array(32).fill(2);
  const today = Math.floor(Date.now() / 86400000) * 86400;
  try {
    for (let i = 0; i < n; i++) {
      const r = await s.queues.createQueue({
        recipientId: subRcvId(i),
        recipientKeys: [key],
        rcvDhSecret: secret,
        senderId: sndId(i),
        senderKey: null,
        queueMode: "M",
        link: null,
        notifier: null,
        status: "active",
        blockingInfo: null,
        updatedAt: today,
        rcvServiceId: null,
      });
      if (r === "DUPLICATE") throw new Error("sub-queues: duplicate id");
      if (i % 5000 === 4999) await s.flush();
    }
    await s.flush();
  } finally {
    await s.close();
  }
}
