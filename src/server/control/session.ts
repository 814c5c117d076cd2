/**
 * One control-port session (Server.hs:runCPServer runCPClient, processCP, controlPortAuth): a role
 * that starts as CPRNone, then each command's reply lines. Cold path: clarity over speed.
 */
import { base64 } from "../../encoding/base64.ts";
import { constantTimeEqual, utf8 } from "../../encoding/bytes.ts";
import { Writer } from "../../encoding/writer.ts";
import { encodeBlockingInfo, parseBlockingInfo, type BlockingInfo } from "../../protocol/errors.ts";
import { Reader } from "../../encoding/reader.ts";
import type { QueueRec } from "../../store/types.ts";
import type { Admission } from "../../transport/admission.ts";
import { log } from "../../util/log.ts";
import { queueDeleted } from "../commands.ts";
import type { Monitor } from "../monitor/index.ts";
import type { ClusterView } from "../monitor/node-stats.ts";
import { PROXY_FIELDS, type ProxyData } from "../monitor/data.ts";
import { runtimeLines } from "../monitor/runtime.ts";
import type { ControlOptions } from "../options.ts";
import type { SmpServer } from "../server.ts";
import { showBlockingInfo, showQueueMode, showStatus, showUpdatedAt, showUTCTime, type ControlCommand } from "./protocol.ts";

export type Role = "CPRNone" | "CPRUser" | "CPRAdmin";

export interface ControlContext {
  readonly srv: SmpServer;
  readonly monitor: Monitor;
  readonly options: ControlOptions;
  readonly admission: Admission;
}

/** The reference's `help` line, verbatim (it does not list status, block, unblock, suspend, resume). */
export const HELP = "commands: stats, stats-rts, clients, sockets, socket-threads, threads, server-info, delete, save, help, quit";
/** The counters of `stats` also given as the cluster's totals. */
const CLUSTER_STATS = [
  "qCreated",
  "qSecured",
  "qDeletedAll",
  "qDeletedNew",
  "qDeletedSecured",
  "qSub",
  "qSubEnd",
  "msgSent",
  "msgRecv",
  "msgRecvGet",
  "msgGet",
  "msgGetNoMsg",
  "msgSentNtf",
  "msgRecvNtf",
  "msgNtfs",
  "msgExpired",
  "msgNtfExpired",
] as const;

export const GREETING = ["SMP server control port", "'help' for supported commands"];

const passwordMatches = (given: Uint8Array, configured: string | undefined) => configured !== undefined && constantTimeEqual(given, utf8(configured));

export class ControlSession {
  role: Role = "CPRNone";
  failedAuths = 0;

  constructor(private readonly ctx: ControlContext) {}

  /** Reply lines for one command (quit and skip have none). */
  async run(c: ControlCommand): Promise<string[]> {
    // Server.hs:runCPClient logCmd; the command word only, never the queue id it names.
    if (c.cmd !== "auth" && c.cmd !== "help" && c.cmd !== "quit" && c.cmd !== "skip") log.warn(`ControlPort: ${c.cmd}`);
    switch (c.cmd) {
      case "auth":
        return [this.auth(c.password)];
      case "skip":
      case "quit":
        return [];
      case "help":
        return [HELP];
      case "stats-rts":
        // Not role-checked in the reference either.
        return runtimeLines(this.ctx.monitor.runtime(), this.ctx.monitor.loop, this.ctx.srv.stats.commitTimes);
      case "suspend":
        return this.admin(() => {
          this.ctx.admission.suspended = true;
          return ["ok, new connections are refused until resume"];
        });
      case "resume":
        return this.admin(() => {
          this.ctx.admission.suspended = false;
          return ["ok, new connections are accepted"];
        });
      case "clients":
        return this.admin(() => this.clients());
      case "stats":
        return this.user(() => this.stats());
      case "threads":
        return this.admin(() => ["Threads: 1", "1 (ThreadRunning) event loop, all connections"]);
      case "socket-threads":
        return this.admin(() => ["Not available: connections do not run on threads here (see clients and sockets)"]);
      case "sockets":
        return this.user(() => this.sockets());
      case "server-info":
        return this.user(() => this.serverInfo());
      case "delete":
        return this.admin(() => this.deleteQueue(c.queueId));
      case "status":
        return this.user(() => this.status(c.queueId));
      case "block":
        return this.user(() => this.block(c.queueId, c.info));
      case "unblock":
        return this.user(() => this.unblock(c.queueId));
      case "save":
        return this.admin(async () => {
          await this.ctx.monitor.save();
          // With several nodes, the others see this node's figures as of now.
          await this.ctx.monitor.publishNodeStats();
          return ["saving server state...", "server state saved!"];
        });
    }
  }

  /** Server.hs:controlPortAuth: the role is set once per session. */
  private auth(password: string): string {
    const given = utf8(password);
    const o = this.ctx.options;
    // Both compared, so the time does not tell which one matched.
    const admin = passwordMatches(given, o.adminPassword);
    const user = passwordMatches(given, o.userPassword);
    const newRole: Role = admin ? "CPRAdmin" : user ? "CPRUser" : "CPRNone";
    if (newRole === "CPRNone") this.failedAuths++;
    if (this.role === "CPRNone") {
      this.role = newRole;
      return `Current role is ${newRole}`;
    }
    return `Current role is ${this.role}${this.role === newRole ? "" : ", start new session to change."}`;
  }

  private async user(f: () => string[] | Promise<string[]>): Promise<string[]> {
    if (this.role === "CPRNone") return this.unauthorized();
    return f();
  }

  private async admin(f: () => string[] | Promise<string[]>): Promise<string[]> {
    if (this.role !== "CPRAdmin") return this.unauthorized();
    return f();
  }

  private unauthorized(): string[] {
    log.error("Unauthorized control port command");
    return ["AUTH"];
  }

  private clients(): string[] {
    const now = Math.floor(Date.now() / 1000);
    const sec = (ms: number) => Math.floor(ms / 1000);
    // Ours, with several nodes: a last column says which node these connections are on.
    const node = this.ctx.srv.options.node;
    const lines = [`clientId,sessionId,connected,createdAt,rcvActiveAt,sndActiveAt,age,subscriptions${node === undefined ? "" : ",node"}`];
    for (const c of this.ctx.srv.clients) {
      const cells = [c.id, base64(c.handle.params.sessionId), c.connected ? "True" : "False", sec(c.createdAt), sec(c.rcvActiveAt), sec(c.sndActiveAt), now - sec(c.createdAt), c.subs.size];
      if (node !== undefined) cells.push(node.name);
      lines.push(cells.join(","));
    }
    return lines;
  }

  /** Server.hs:processCP CPStats, line by line. */
  private async stats(): Promise<string[]> {
    const d = await this.ctx.monitor.statsData();
    const c = d.counters;
    const st = d.store;
    const put = (k: keyof typeof c) => `${k}: ${c[k]}`;
    const proxy = (label: string, p: ProxyData) => `${label}: ${PROXY_FIELDS.map((f) => `${f}=${p[f]}`).join(", ")}`;
    const lines = [
      `fromTime: ${showUTCTime(d.fromTime)}`,
      put("qCreated"),
      put("qSecured"),
      put("qDeletedAll"),
      put("qDeletedAllB"),
      put("qDeletedNew"),
      put("qDeletedSecured"),
      `daily active queues: ${d.activeQueues.day}`,
      put("qSub"),
      put("qSubAllB"),
      put("qSubEnd"),
      put("qSubEndB"),
      `other SUB events (auth, duplicate, prohibited): (${c.qSubAuth},${c.qSubDuplicate},${c.qSubProhibited})`,
      put("msgSent"),
      put("msgRecv"),
      put("msgRecvGet"),
      put("msgGet"),
      put("msgGetNoMsg"),
      `other GET events (auth, duplicate, prohibited): (${c.msgGetAuth},${c.msgGetDuplicate},${c.msgGetProhibited})`,
      put("msgSentNtf"),
      put("msgRecvNtf"),
      put("msgNtfs"),
      put("msgNtfsB"),
      put("msgNtfExpired"),
      put("qCount"),
      `qCount 2: ${st.queueCount}`,
      `notifiers: ${st.notifierCount}`,
      put("msgCount"),
      `ntfCount: ${st.ntfCount}`,
    ];
    if (this.role === "CPRAdmin") lines.push(`ntfCount 2: ${st.ntfCount}`);
    lines.push(
      proxy("pRelays", d.pRelays),
      proxy("pRelaysOwn", d.pRelaysOwn),
      proxy("pMsgFwds", d.pMsgFwds),
      proxy("pMsgFwdsOwn", d.pMsgFwdsOwn),
      `pMsgFwdsRecv: ${d.pMsgFwdsRecv}`,
      `rcvServiceCount: ${st.rcvServiceCount}`,
      `ntfServiceCount: ${st.ntfServiceCount}`,
      `rcvServiceQueuesCount: ${st.rcvServiceQueuesCount}`,
      `ntfServiceQueuesCount: ${st.ntfServiceQueuesCount}`,
    );
    // Ours, with several nodes: the lines above are this node's; then the cluster's totals.
    const node = this.ctx.srv.options.node;
    if (node !== undefined) {
      lines.push(`node: ${node.name}`);
      const view = await this.cluster();
      if (typeof view === "string") lines.push(`cluster: ${view}`);
      else {
        lines.push(`cluster nodes: ${view.nodes.length}`, `cluster live nodes: ${view.nodes.filter((n) => n.live).length}`);
        for (const k of CLUSTER_STATS) lines.push(`cluster ${k}: ${view.totals[k]}`);
      }
    }
    return lines;
  }

  /** The cluster's view, or why it cannot be read (the store is unreachable). */
  private async cluster(): Promise<ClusterView | string> {
    try {
      return (await this.ctx.monitor.cluster()) ?? "not available";
    } catch (e) {
      return `not available (${(e as Error).message})`;
    }
  }

  private sockets(): string[] {
    const lines: string[] = [];
    for (const s of this.ctx.monitor.realTime().sockets) {
      lines.push(`Sockets for port ${s.port}:`, `accepted: ${s.accepted}`, `closed: ${s.closed}`, `active: ${s.active}`, `leaked: ${s.leaked}`);
    }
    return lines;
  }

  private async serverInfo(): Promise<string[]> {
    const srv = this.ctx.srv;
    const rt = this.ctx.monitor.realTime();
    const lines = ["Threads: 1", `Clients: ${srv.clients.size}`];
    if (this.role === "CPRAdmin") {
      // The reference's lines in its order, so scripts reading them by position stay aligned.
      // Its three client queues map here to: rcvQ 0 (a block's commands run as it is read),
      // sndQ = responses not yet flushed + blocks the peer has not taken, msgQ 0 (deliveries go
      // through the same outbox). Its subscription threads do not exist here: a SUB delivers
      // directly (NoSub); GET's mark is ProhibitSub; SubPending and SubThread are always 0.
      let subs = 0;
      let subClients = 0;
      let ntfSubs = 0;
      let ntfClients = 0;
      let noSub = 0;
      let prohibitSub = 0;
      let sndQ = 0;
      let smpSndQ = 0;
      let ntfSndQ = 0;
      for (const c of srv.clients) {
        const queued = c.outbox.size + c.outbox.waitingBlocks;
        sndQ += queued;
        subs += c.subs.size;
        for (const sub of c.subs.values()) {
          if (sub.kind === "prohibit") prohibitSub++;
          else noSub++;
        }
        if (c.subs.size > 0) {
          subClients++;
          smpSndQ += queued;
        }
        ntfSubs += c.ntfSubs.size;
        if (c.ntfSubs.size > 0) {
          ntfClients++;
          ntfSndQ += queued;
        }
      }
      // Haskell's `show` of the tuples: "(0,0,0)".
      const queues = (snd: number) => `(0,${snd},0)`;
      lines.push(
        `Client queues (rcvQ, sndQ, msgQ): ${queues(sndQ)}`,
        `SMP subscriptions (via clients): ${subs}`,
        `SMP subscriptions (by group: NoSub, SubPending, SubThread, ProhibitSub): (${noSub},0,0,${prohibitSub})`,
        `SMP subscribed clients (via clients): ${subClients}`,
        `SMP subscribed clients queues (via clients, rcvQ, sndQ, msgQ): ${queues(smpSndQ)}`,
        `Ntf subscriptions (via clients): ${ntfSubs}`,
        `Ntf subscribed clients (via clients): ${ntfClients}`,
        `Ntf subscribed clients queues (via clients, rcvQ, sndQ, msgQ): ${queues(ntfSndQ)}`,
      );
    }
    const ntfIds = [...srv.clients].filter((c) => c.ntfSubs.size > 0).map((c) => c.id).sort((a, b) => a - b);
    lines.push(
      `SMP subscriptions: ${rt.smpSubs.subs}`,
      `SMP subscribed clients: ${rt.smpSubs.clients}`,
      `SMP subscribed clients count 2: ${rt.smpSubs.clients}`,
      `Ntf subscriptions: ${rt.ntfSubs.subs}`,
      `Ntf subscribed clients: ${ntfIds.length} [${ntfIds.join(",")}]`,
      `Ntf subscribed clients count 2: ${ntfIds.length} fromList [${ntfIds.join(",")}]`,
      // Ours: an optional role that is degraded says so here (SMP keeps serving).
      `Names resolver: ${this.ctx.monitor.namesResolver()}`,
    );
    const node = this.ctx.srv.options.node;
    if (node !== undefined) {
      // Ours, with several nodes: which one answered, and every node's last publication.
      lines.push(`Node: ${node.name} (${node.index} of ${node.count} on its machine)`);
      const view = await this.cluster();
      if (typeof view === "string") lines.push(`Cluster: ${view}`);
      else {
        const now = Math.floor(Date.now() / 1000);
        lines.push(`Cluster nodes: ${view.nodes.length}, clients: ${view.clients}, SMP subscriptions: ${view.smpSubs}, Ntf subscriptions: ${view.ntfSubs}`);
        for (const n of view.nodes) {
          const f = n.figures;
          const state = n.live ? "live" : f?.running === false ? "stopped" : "silent";
          const figures = f === null ? "unreadable figures" : `clients ${f.clients}, SMP subscriptions ${f.smpSubs}, Ntf subscriptions ${f.ntfSubs}`;
          lines.push(`Node ${n.node}: ${state}, updated ${showUTCTime(n.updatedAt * 1000)} (${now - n.updatedAt} s ago), ${figures}`);
        }
      }
    }
    return lines;
  }

  /** Server.hs:getSenderQueue: by sender id, else by short-link id. */
  private async senderQueue(id: Uint8Array): Promise<QueueRec | null> {
    const queues = this.ctx.srv.store.queues;
    return (await queues.getQueueBySenderId(id)) ?? (await queues.getQueueByLinkId(id));
  }

  private async deleteQueue(id: Uint8Array): Promise<string[]> {
    const srv = this.ctx.srv;
    const q = await this.senderQueue(id);
    if (q === null) return ["error: AUTH"];
    const r = await srv.store.queues.deleteQueue(q);
    if (r === "AUTH") return ["error: AUTH"];
    await srv.store.flush();
    // Ours: subscribers get DELD (and the queue's subscriptions end) as for the recipient's DEL;
    // the reference's CPDelete only deletes and updates the statistics (updateDeletedStats),
    // leaving subscribers to learn of it at their next command.
    queueDeleted(srv, r.queue, null);
    return [`ok, ${r.msgCount} messages deleted`];
  }

  private async status(id: Uint8Array): Promise<string[]> {
    const q = await this.senderQueue(id);
    if (q === null) return ["error: AUTH"];
    return [`status: ${showStatus(q.status, blockingOf(q))}, updatedAt: ${showUpdatedAt(q.updatedAt)}, queueMode: ${showQueueMode(q.queueMode)}`];
  }

  /** Server.hs:processCP CPBlock, with the daily quota. */
  private async block(id: Uint8Array, info: BlockingInfo): Promise<string[]> {
    const srv = this.ctx.srv;
    const quota = this.ctx.options.dailyBlockQueueQuota;
    if (srv.stats.qBlocked >= quota && quota !== 0) return [`error: reached limit of ${quota} queues blocked daily`];
    const q = await this.senderQueue(id);
    if (q === null) return ["error: AUTH"];
    const newStatus = showStatus("blocked", info);
    const current = blockingOf(q);
    const same = q.status === "blocked" && current !== null && sameInfo(current, info);
    if (!same) {
      const w = new Writer();
      encodeBlockingInfo(w, info);
      if ((await srv.store.queues.blockQueue(q, w.toBytes())) === "AUTH") return ["error: AUTH"];
      // Durable before it is confirmed, and before anyone is told.
      await srv.store.flush();
      // The queue's own subscriber only, as processCP CPBlock, on whichever node it is.
      srv.subscribers.blocked(q.recipientId.slice(), info);
    }
    if (q.status !== "active") return [`ok, already inactive: ${newStatus}`];
    srv.stats.qBlocked++;
    return [`ok, queue blocked: ${newStatus}`];
  }

  private async unblock(id: Uint8Array): Promise<string[]> {
    const srv = this.ctx.srv;
    const q = await this.senderQueue(id);
    if (q === null) return ["error: AUTH"];
    if (q.status === "active") return ["ok, queue was active"];
    if (q.status === "off") return ["error, queue is inactive"];
    if ((await srv.store.queues.unblockQueue(q)) === "AUTH") return ["error: AUTH"];
    await srv.store.flush();
    return [`ok, queue unblocked, reason to block was: ${showBlockingInfo(blockingOf(q) ?? { reason: "spam", notice: null })}`];
  }
}

function blockingOf(q: QueueRec): BlockingInfo | null {
  if (q.blockingInfo === null) return null;
  try {
    return parseBlockingInfo(new Reader(q.blockingInfo));
  } catch {
    return null;
  }
}

function sameInfo(a: BlockingInfo, b: BlockingInfo): boolean {
  return a.reason === b.reason && (a.notice?.ttl ?? undefined) === (b.notice?.ttl ?? undefined) && (a.notice === null) === (b.notice === null);
}
