/**
 * One connected client (Server/Env/STM.hs:Client): its negotiated handle, its subscriptions and
 * its outbox.
 */
import type { ServerAuth, SmpHandle } from "../transport/handle.ts";
import { Outbox } from "./outbox.ts";
import { newServiceSubs, type ServiceSubs } from "./services.ts";

/** Per-queue delivery state of a connection (Server/Env/STM.hs:Sub). */
export interface Sub {
  /** "server" = SUB (delivery pushed), "prohibit" = GET was used: SUB is refused on this connection. */
  readonly kind: "server" | "prohibit";
  /** The message sent and not yet acknowledged: at most one per subscription. */
  delivered: { msgId: Uint8Array; ts: number } | null;
}

let nextClientId = 1;

export class Client {
  readonly id = nextClientId++;
  /** Recipient subscriptions and GET states, by recipient id key. */
  readonly subs = new Map<string, Sub>();
  /** Notifier subscriptions (NSUB), by notifier id key. */
  readonly ntfSubs = new Set<string>();
  /** Service connections: SUBS/NSUBS received (services.ts). */
  serviceSubscribed = false;
  /** Service connections: count and IdsHash of the queues this connection serves for its service. */
  serviceSubs: ServiceSubs = newServiceSubs();
  readonly outbox: Outbox;
  /** Where each transmission of the block being processed lies (a block holds at most 255). */
  readonly transmissionStarts = new Uint16Array(255);
  readonly transmissionEnds = new Uint16Array(255);
  connected = true;
  rcvActiveAt = Date.now();
  sndActiveAt = Date.now();

  constructor(readonly handle: SmpHandle<ServerAuth>) {
    this.outbox = new Outbox(handle);
  }

  get version(): number {
    return this.handle.params.version;
  }

  get serviceId(): Uint8Array | null {
    return this.handle.auth.peerService?.serviceId ?? null;
  }

  hasSubscriptions(): boolean {
    return this.subs.size > 0 || this.ntfSubs.size > 0 || this.serviceSubscribed || this.serviceSubs.count !== 0;
  }
}
