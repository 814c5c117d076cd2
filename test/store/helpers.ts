// Shared fixtures for the store tests: queue records built from the reference vector keys.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../../src/store/store.ts";
import type { NewMessage, NewQueue, QueueRec } from "../../src/store/types.ts";
import { hex, loadVectors } from "../vectors.ts";

const keys = loadVectors("primitives.json").keys as { label: string; public_spki_der: string }[];

/** DER SPKI of a vector key, e.g. "rcv-auth-ed25519". */
export function spki(label: string): Uint8Array {
  const k = keys.find((x) => x.label === label);
  if (!k) throw new Error("no vector key " + label);
  return hex(k.public_spki_der);
}

export function randomId(n = 24): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

export function newQueue(over: Partial<NewQueue> = {}): NewQueue {
  return {
    recipientId: randomId(),
    recipientKeys: [spki("rcv-auth-ed25519")],
    rcvDhSecret: randomId(32),
    senderId: randomId(),
    senderKey: null,
    queueMode: "M",
    link: null,
    notifier: null,
    status: "active",
    blockingInfo: null,
    updatedAt: 19_000 * 86400,
    rcvServiceId: null,
    ...over,
  };
}

let msgCounter = 0;
export function newMsg(over: Partial<NewMessage> = {}): NewMessage {
  msgCounter++;
  return {
    msgId: randomId(),
    tsMs: 1_700_000_000_000 + msgCounter,
    notification: false,
    body: new TextEncoder().encode("message " + msgCounter),
    ...over,
  };
}

export async function created(s: Store, q: NewQueue = newQueue()): Promise<QueueRec> {
  const r = await s.queues.createQueue(q);
  if (r === "DUPLICATE") throw new Error("unexpected DUPLICATE");
  return r;
}

/** A temp directory removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "smp-store-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
