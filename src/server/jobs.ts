/**
 * Periodic work (Server.hs:expireMessagesThread, expireNtfsThread, disconnectTransport):
 * bounded steps that yield to the event loop between them, so expiry of a large store never
 * stalls connections.
 */
import { log } from "../util/log.ts";
import type { Client, Env } from "./env.ts";
import { idKey } from "../encoding/bytes.ts";

const MSG_EXPIRY_INTERVAL_MS = 7200_000; // Server.hs: expireMessagesThread checks every 2 hours
const NTF_EXPIRY_INTERVAL_MS = 3600_000; // Server/Env/STM.hs:defaultNtfExpiration checkInterval
const NTF_DELIVERY_INTERVAL_MS = 1500; // Server/Main.hs:serverConfig ntfDeliveryInterval
const NTF_PAGE = 256;
const NTF_PAGES_PER_TICK = 4;
const EXPIRY_BUDGET = 500; // ~10 ms of work per step (bench/store.ts), then yield

export interface Jobs {
  stop(): void;
}

async function expireInSteps(step: () => Promise<{ expired: number; done: boolean }>): Promise<number> {
  let total = 0;
  for (;;) {
    const r = await step();
    total += r.expired;
    if (r.done) return total;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Whether this process runs the store-wide job now: with several nodes on one store, the one
 * node that holds the job's lock (StoreCluster.lead), so that expiry runs once, not once a node.
 */
async function leads(srv: Env, job: string): Promise<boolean> {
  return srv.store.cluster === undefined || (await srv.store.cluster.lead(job));
}

export function startJobs(srv: Env): Jobs {
  const o = srv.options;
  const timers: ReturnType<typeof setInterval>[] = [];
  let running = false;

  const expireMessages = async () => {
    if (running) return;
    running = true;
    try {
      if (!(await leads(srv, "expire-messages"))) return;
      const old = Math.floor(Date.now() / 1000) - o.store.expireMessagesDays * 86400;
      const n = await expireInSteps(() => srv.store.messages.expireMessages(old, EXPIRY_BUDGET));
      await srv.store.flush();
      srv.stats.msgExpired += n;
      // Server.hs:expireMessagesThread resets the gauge to what the store holds.
      srv.stats.msgCount = (await srv.store.stats()).messageCount;
      if (n > 0) log.info(`expired ${n} messages`);
    } catch (e) {
      log.error(`message expiry failed: ${(e as Error).message}`);
    } finally {
      running = false;
    }
  };
  const expireNtfs = async () => {
    try {
      if (!(await leads(srv, "expire-ntfs"))) return;
      const old = Math.floor(Date.now() / 1000) - o.store.expireNtfsHours * 3600;
      const n = await expireInSteps(() => srv.store.ntfs.expireNtfs(old, EXPIRY_BUDGET));
      await srv.store.flush();
      srv.stats.msgNtfExpired += n;
    } catch (e) {
      log.error(`notification expiry failed: ${(e as Error).message}`);
    }
  };

  // Server.hs:deliverNtfsThread: notifications kept while their subscriber was away or not
  // reading go out every 1.5 s; a cursor walks the pending notifiers round-robin, a few pages
  // per tick, so the work per tick stays bounded however many are pending.
  let ntfCursor: Uint8Array | null = null;
  let delivering = false;
  const deliverNtfs = async () => {
    if (delivering || !srv.subscribers.anySubscribed("ntf")) return;
    delivering = true;
    try {
      for (let pageNo = 0; pageNo < NTF_PAGES_PER_TICK; pageNo++) {
        const page = await srv.store.ntfs.pendingNtfNotifiers(ntfCursor, NTF_PAGE);
        ntfCursor = page.length < NTF_PAGE ? null : page[page.length - 1]!.notifierId;
        const targets = new Map<string, Client>();
        for (const p of page) {
          const key = idKey(p.notifierId);
          const t = srv.subscribers.deliverTo("ntf", key, p.serviceId);
          if (t !== undefined && !t.outbox.backedUp) targets.set(key, t);
        }
        if (targets.size > 0) {
          // Removed from the store here, committed before they are written (SmpServer.push).
          const taken = await srv.store.ntfs.takeNtfs(page.filter((p) => targets.has(idKey(p.notifierId))).map((p) => p.notifierId));
          const perClient = new Map<Client, number>();
          for (const n of taken) {
            const t = targets.get(idKey(n.notifierId))!;
            perClient.set(t, (perClient.get(t) ?? 0) + 1);
            srv.push(t, n.notifierId, { tag: "NMSG", nonce: n.ntf.nonce, encMeta: n.ntf.encMeta });
          }
          for (const n of perClient.values()) srv.stats.countNtfsDelivered(n);
        }
        if (ntfCursor === null) break;
      }
    } catch (e) {
      log.error(`notification delivery failed: ${(e as Error).message}`);
    } finally {
      delivering = false;
    }
  };
  timers.push(setInterval(() => void deliverNtfs(), NTF_DELIVERY_INTERVAL_MS));

  if (o.store.expireMessagesOnStart) void expireMessages();
  timers.push(setInterval(() => void expireMessages(), MSG_EXPIRY_INTERVAL_MS));
  timers.push(setInterval(() => void expireNtfs(), NTF_EXPIRY_INTERVAL_MS));

  const ic = o.inactiveClients;
  if (ic !== undefined) {
    // Server.hs:disconnectTransport: only connections without subscriptions are dropped.
    timers.push(
      setInterval(() => {
        const before = Date.now() - ic.ttlSeconds * 1000;
        for (const c of srv.clients) {
          if (!c.hasSubscriptions() && Math.max(c.rcvActiveAt, c.sndActiveAt) < before) c.handle.close();
        }
      }, ic.checkIntervalSeconds * 1000),
    );
  }
  for (const t of timers) t.unref?.();
  return {
    stop() {
      for (const t of timers) clearInterval(t);
    },
  };
}
