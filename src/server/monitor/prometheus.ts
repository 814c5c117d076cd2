/**
 * The Prometheus text of `smp-server-metrics.txt` (Server/Prometheus.hs:prometheusMetrics): the
 * reference's metric names, labels, help texts (misspellings such as "subscribtion" included) and
 * its `# name` notes after each sample, so existing scrapers and Grafana dashboards keep working.
 * Each sample carries the time of rendering in epoch milliseconds, as there.
 */
import { utcTimeJson } from "../../protocol/queue-info.ts";
import type { ServiceData, StatsData } from "./data.ts";
import type { TimeBuckets } from "../stats.ts";

type MetricType = "counter" | "gauge";
type Sample = readonly [labels: string, value: (d: StatsData) => number, note: string];

interface Metric {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: readonly Sample[];
}

interface Section {
  readonly title: string;
  /** The reference leaves out the blank line after one section's underline ("Services"). */
  readonly gap: boolean;
  readonly metrics: readonly Metric[];
}

const metric = (name: string, type: MetricType, help: string, samples: readonly Sample[]): Metric => ({ name, type, help, samples });
const section = (title: string, gap: boolean, metrics: readonly Metric[]): Section => ({ title, gap, metrics });

/** Per side of services: [name suffix, type, help with {kind}, field]. */
const SERVICE_METRICS: readonly [string, MetricType, string, keyof ServiceData][] = [
  ["assoc_new", "counter", "New queue associations with {kind} services.", "assocNew"],
  ["assoc_duplicate", "counter", "Duplicate queue associations with {kind} services.", "assocDuplicate"],
  ["assoc_updated", "counter", "Updated queue associations with {kind} services.", "assocUpdated"],
  ["assoc_removed", "counter", "Removed queue associations with {kind} services.", "assocRemoved"],
  ["sub_count", "counter", "Service subscriptions by {kind} services.", "subCount"],
  ["sub_duplicate", "counter", "Duplicate service subscriptions by {kind} services.", "subDuplicate"],
  ["sub_queues", "gauge", "Queues subscribed by {kind} services.", "subQueues"],
  ["sub_end", "gauge", "Ended subscriptions with {kind} services.", "subEnd"],
  ["sub_ok", "gauge", "Service subscriptions for {kind} services.", "subOk"],
  ["sub_more", "gauge", "Service subscriptions for {kind} services with more queues than in the client.", "subMore"],
  ["sub_fewer", "gauge", "Service subscriptions for {kind} services with fewer queues than in the client.", "subFewer"],
  ["sub_diff", "gauge", "Service subscriptions for {kind} services with different hash than in the client.", "subDiff"],
  ["sub_more_total", "gauge", "Service subscriptions for {kind} services with more queues than in the client total.", "subMoreTotal"],
  ["sub_fewer_total", "gauge", "Service subscriptions for {kind} services with fewer queues than in the client total.", "subFewerTotal"],
];

function serviceMetrics(pfx: string, kind: string, sel: (d: StatsData) => ServiceData): Metric[] {
  return SERVICE_METRICS.map(([suffix, type, help, field]) =>
    metric(`simplex_smp_${pfx}_services_${suffix}`, type, help.replace("{kind}", kind), [["", (d) => sel(d)[field], `${pfx}.srv${field[0]!.toUpperCase()}${field.slice(1)}`]]),
  );
}

/** The reference's sections in order; each sample's note is the reference's variable name. */
export const SECTIONS: readonly Section[] = [
  section("Queues", true, [
    metric("simplex_smp_queues_created", "counter", "Created queues", [
      ["", (d) => d.counters.qCreated, "qCreated"],
    ]),
    metric("simplex_smp_queues_secured", "counter", "Secured queues", [
      ["", (d) => d.counters.qSecured, "qSecured"],
    ]),
    metric("simplex_smp_queues_deleted", "counter", "Deleted queues", [
      ["{type=\"all\"}", (d) => d.counters.qDeletedAll, "qDeleted"],
      ["{type=\"new\"}", (d) => d.counters.qDeletedNew, "qDeletedNew"],
      ["{type=\"secured\"}", (d) => d.counters.qDeletedSecured, "qDeletedSecured"],
    ]),
    metric("simplex_smp_queues_blocked", "counter", "Deleted queues", [
      ["", (d) => d.counters.qBlocked, "qBlocked"],
    ]),
    metric("simplex_smp_queues_deleted_batch", "counter", "Batched requests to delete queues", [
      ["", (d) => d.counters.qDeletedAllB, "qDeletedAllB"],
    ]),
    metric("simplex_smp_queues_total1", "gauge", "Total number of stored queues (first type of count).", [
      ["", (d) => d.counters.qCount, "qCount"],
    ]),
    metric("simplex_smp_queues_total2", "gauge", "Total number of stored queues (second type of count).", [
      ["", (d) => d.store.queueCount, "qCount2"],
    ]),
    metric("simplex_smp_queues_daily", "gauge", "Daily active queues.", [
      ["", (d) => d.activeQueues.day, "dayMsgQueues"],
    ]),
    metric("simplex_smp_queues_weekly", "gauge", "Weekly active queues.", [
      ["", (d) => d.activeQueues.week, "weekMsgQueues"],
    ]),
    metric("simplex_smp_queues_monthly", "gauge", "Monthly active queues.", [
      ["", (d) => d.activeQueues.month, "monthMsgQueues"],
    ]),
    metric("simplex_smp_queues_notify_daily", "gauge", "Daily active queues with notifications.", [
      ["", (d) => d.activeQueuesNtf.day, "dayCountNtf"],
    ]),
    metric("simplex_smp_queues_notify_weekly", "gauge", "Weekly active queues with notifications.", [
      ["", (d) => d.activeQueuesNtf.week, "weekCountNtf"],
    ]),
    metric("simplex_smp_queues_notify_monthly", "gauge", "Monthly active queues with notifications.", [
      ["", (d) => d.activeQueuesNtf.month, "monthCountNtf"],
    ]),
  ]),
  section("Subscriptions", true, [
    metric("simplex_smp_subscribtion_successes", "counter", "Successful subscriptions.", [
      ["", (d) => d.counters.qSub, "qSub"],
    ]),
    metric("simplex_smp_subscribtion_successes_batch", "counter", "Batched successful subscriptions.", [
      ["", (d) => d.counters.qSubAllB, "qSubAllB"],
    ]),
    metric("simplex_smp_subscribtion_end", "counter", "Ended subscriptions.", [
      ["", (d) => d.counters.qSubEnd, "qSubEnd"],
    ]),
    metric("simplex_smp_subscribtion_end_batch", "counter", "Batched ended subscriptions.", [
      ["", (d) => d.counters.qSubEndB, "qSubEndB"],
    ]),
    metric("simplex_smp_subscribtion_errors", "counter", "Subscription errors.", [
      ["{type=\"auth\"}", (d) => d.counters.qSubAuth, "qSubAuth"],
      ["{type=\"duplicate\"}", (d) => d.counters.qSubDuplicate, "qSubDuplicate"],
      ["{type=\"prohibited\"}", (d) => d.counters.qSubProhibited, "qSubProhibited"],
    ]),
  ]),
  section("Messages", true, [
    metric("simplex_smp_messages_sent", "counter", "Sent messages.", [
      ["", (d) => d.counters.msgSent, "msgSent"],
    ]),
    metric("simplex_smp_messages_sent_errors", "counter", "Total number of messages errors by type.", [
      ["{type=\"auth\"}", (d) => d.counters.msgSentAuth, "msgSentAuth"],
      ["{type=\"quota\"}", (d) => d.counters.msgSentQuota, "msgSentQuota"],
      ["{type=\"large\"}", (d) => d.counters.msgSentLarge, "msgSentLarge"],
      ["{type=\"block\"}", (d) => d.counters.msgSentBlock, "msgSentBlock"],
    ]),
    metric("simplex_smp_messages_received", "counter", "Received messages.", [
      ["", (d) => d.counters.msgRecv, "msgRecv"],
    ]),
    metric("simplex_smp_messages_expired", "counter", "Expired messages.", [
      ["", (d) => d.counters.msgExpired, "msgExpired"],
    ]),
    metric("simplex_smp_messages_total", "gauge", "Total number of messages stored.", [
      ["", (d) => d.counters.msgCount, "msgCount"],
    ]),
  ]),
  section("Notification messages (client)", true, [
    metric("simplex_smp_messages_notify_sent", "counter", "Sent messages with notification flag (cleint).", [
      ["", (d) => d.counters.msgSentNtf, "msgSentNtf"],
    ]),
    metric("simplex_smp_messages_notify_received", "counter", "Received messages with notification flag (client).", [
      ["", (d) => d.counters.msgRecvNtf, "msgRecvNtf"],
    ]),
    metric("simplex_smp_messages_notify_get_sent", "counter", "Requests to get messages with notification flag (client).", [
      ["", (d) => d.counters.msgGet, "msgGet"],
    ]),
    metric("simplex_smp_messages_notify_get_received", "counter", "Succesfully received get requests messages with notification flag (client).", [
      ["", (d) => d.counters.msgRecvGet, "msgRecvGet"],
    ]),
    metric("simplex_smp_messages_notify_get_errors", "counter", "Error events with messages with notification flag (client). ", [
      ["{type=\"nomsg\"}", (d) => d.counters.msgGetNoMsg, "msgGetNoMsg"],
      ["{type=\"auth\"}", (d) => d.counters.msgGetAuth, "msgGetAuth"],
      ["{type=\"duplicate\"}", (d) => d.counters.msgGetDuplicate, "msgGetDuplicate"],
      ["{type=\"prohibited\"}", (d) => d.counters.msgGetProhibited, "msgGetProhibited"],
    ]),
    metric("simplex_smp_queues_notify_created", "counter", "Created queue notification credentials.", [
      ["", (d) => d.counters.ntfCreated, "ntfCreated"],
    ]),
    metric("simplex_smp_queues_notify_new_created", "counter", "Created new queues with notification credentials.", [
      ["", (d) => d.counters.ntfNewCreated, "ntfNewCreated"],
    ]),
    metric("simplex_smp_queues_notify_deleted", "counter", "Deleted queue notification credentials.", [
      ["", (d) => d.counters.ntfDeleted, "ntfDeleted"],
    ]),
    metric("simplex_smp_queues_notify_deleted_batch", "counter", "Deleted batched queue notification credentials.", [
      ["", (d) => d.counters.ntfDeletedB, "ntfDeletedB"],
    ]),
    metric("simplex_smp_queues_notify_total1", "gauge", "Total number of stored queues with notification flag (first type of count).", [
      ["", (d) => d.store.ntfCount, "ntfCount1"],
    ]),
    metric("simplex_smp_queues_notify_total2", "gauge", "Total number of stored queues with notification flag (second type of count).", [
      ["", (d) => d.store.notifierCount, "ntfCount2"],
    ]),
  ]),
  section("Notifications (server)", true, [
    metric("simplex_smp_messages_ntf_successes", "counter", "Successful events with notification messages (to ntf server). ", [
      ["", (d) => d.counters.msgNtfs, "msgNtfs"],
    ]),
    metric("simplex_smp_messages_ntf_successes_batch", "counter", "Successful batched events with notification messages (to ntf server). ", [
      ["", (d) => d.counters.msgNtfsB, "msgNtfsB"],
    ]),
    metric("simplex_smp_messages_ntf_errors", "counter", "Error events with notification messages (to ntf server). ", [
      ["{type=\"nosub\"}", (d) => d.counters.msgNtfNoSub, "msgNtfNoSub"],
      ["{type=\"lost\"}", (d) => d.counters.msgNtfLost, "msgNtfLost"],
      ["{type=\"expired\"}", (d) => d.counters.msgNtfExpired, "msgNtfExpired"],
    ]),
    metric("simplex_smp_subscription_ntf_requests", "counter", "Subscription requests with notification flag (from ntf server). ", [
      ["", (d) => d.counters.ntfSub, "ntfSub"],
    ]),
    metric("simplex_smp_subscription_ntf_requests_batch", "counter", "Batched subscription requests with notification flag (from ntf server). ", [
      ["", (d) => d.counters.ntfSubB, "ntfSubB"],
    ]),
    metric("simplex_smp_subscribtion_ntf_errors", "counter", "Subscription errors with notification flag (from ntf server). ", [
      ["{type=\"auth\"}", (d) => d.counters.ntfSubAuth, "ntfSubAuth"],
      ["{type=\"duplicate\"}", (d) => d.counters.ntfSubDuplicate, "ntfSubDuplicate"],
    ]),
  ]),
  section("Relays", true, [
    metric("simplex_smp_relay_sessions_requests", "counter", "Session requests through relay.", [
      ["{source=\"all\"}", (d) => d.pRelays.requests, "pRelays_pRequests"],
      ["{source=\"own\"}", (d) => d.pRelaysOwn.requests, "pRelaysOwn_pRequests"],
    ]),
    metric("simplex_smp_relay_sessions_successes", "counter", "Successful session events through relay.", [
      ["{source=\"all\"}", (d) => d.pRelays.successes, "pRelays_pSuccesses"],
      ["{source=\"own\"}", (d) => d.pRelaysOwn.successes, "pRelaysOwn_pSuccesses"],
    ]),
    metric("simplex_smp_relay_sessions_errors", "counter", "Error session events through relay.", [
      ["{source=\"all\",type=\"connect\"}", (d) => d.pRelays.errorsConnect, "pRelays_pErrorsConnect"],
      ["{source=\"all\",type=\"compat\"}", (d) => d.pRelays.errorsCompat, "pRelays_pErrorsCompat"],
      ["{source=\"all\",type=\"other\"}", (d) => d.pRelays.errorsOther, "pRelays_pErrorsOther"],
      ["{source=\"own\",type=\"connect\"}", (d) => d.pRelaysOwn.errorsConnect, "pRelaysOwn_pErrorsConnect"],
      ["{source=\"own\",type=\"compat\"}", (d) => d.pRelaysOwn.errorsCompat, "pRelaysOwn_pErrorsCompat"],
      ["{source=\"own\",type=\"other\"}", (d) => d.pRelaysOwn.errorsOther, "pRelaysOwn_pErrorsOther"],
    ]),
    metric("simplex_smp_relay_messages_requests", "counter", "Message requests sent through relay.", [
      ["{source=\"all\"}", (d) => d.pMsgFwds.requests, "pMsgFwds_pRequests"],
      ["{source=\"own\"}", (d) => d.pMsgFwdsOwn.requests, "pMsgFwdsOwn_pRequests"],
    ]),
    metric("simplex_smp_relay_messages_successes", "counter", "Successful messages sent through relay.", [
      ["{source=\"all\"}", (d) => d.pMsgFwds.successes, "pMsgFwds_pSuccesses"],
      ["{source=\"own\"}", (d) => d.pMsgFwdsOwn.successes, "pMsgFwdsOwn_pSuccesses"],
    ]),
    metric("simplex_smp_relay_messages_errors", "counter", "Error events with messages sent through relay.", [
      ["{source=\"all\",type=\"connect\"}", (d) => d.pMsgFwds.errorsConnect, "pMsgFwds_pErrorsConnect"],
      ["{source=\"all\",type=\"compat\"}", (d) => d.pMsgFwds.errorsCompat, "pMsgFwds_pErrorsCompat"],
      ["{source=\"all\",type=\"other\"}", (d) => d.pMsgFwds.errorsOther, "pMsgFwds_pErrorsOther"],
      ["{source=\"own\",type=\"connect\"}", (d) => d.pMsgFwdsOwn.errorsConnect, "pMsgFwdsOwn_pErrorsConnect"],
      ["{source=\"own\",type=\"compat\"}", (d) => d.pMsgFwdsOwn.errorsCompat, "pMsgFwdsOwn_pErrorsCompat"],
      ["{source=\"own\",type=\"other\"}", (d) => d.pMsgFwdsOwn.errorsOther, "pMsgFwdsOwn_pErrorsOther"],
    ]),
    metric("simplex_smp_relay_messages_received", "counter", "Relay messages statistics.", [
      ["", (d) => d.pMsgFwdsRecv, "pMsgFwdsRecv"],
    ]),
  ]),
  section("Services", false, [
    metric("simplex_smp_rcv_services_count", "gauge", "The count of receiving services.", [
      ["", (d) => d.store.rcvServiceCount, "rcvServiceCount"],
    ]),
    metric("simplex_smp_rcv_services_queues_count", "gauge", "The count of queues associated with receiving services.", [
      ["", (d) => d.store.rcvServiceQueuesCount, "rcv.rcvServiceQueuesCount"],
    ]),
    metric("simplex_smp_ntf_services_count", "gauge", "The count of notification services.", [
      ["", (d) => d.store.ntfServiceCount, "ntfServiceCount"],
    ]),
    metric("simplex_smp_ntf_services_queues_count", "gauge", "The count of queues associated with notification services.", [
      ["", (d) => d.store.ntfServiceQueuesCount, "ntfServiceQueuesCount"],
    ]),
    metric("simplex_smp_rcv_services_sub_msg_count", "counter", "The count of subscribed service queues with messages.", [
      ["", (d) => d.counters.rcvServicesSubMsg, "rcvServicesSubMsg"],
    ]),
    metric("simplex_smp_rcv_services_sub_duplicate_count", "counter", "The count of duplicate subscribed service queues.", [
      ["", (d) => d.counters.rcvServicesSubDuplicate, "rcvServicesSubDuplicate"],
    ]),
    ...serviceMetrics("rcv", "receiving", (d) => d.rcvServices),
    ...serviceMetrics("ntf", "notification", (d) => d.ntfServices),
  ]),
  section("Names", true, [
    metric("simplex_smp_names_reqs", "counter", "Total RSLV requests forwarded to this server.", [
      ["", (d) => d.names.reqs, "rslvReqs"],
    ]),
    metric("simplex_smp_names_success", "counter", "NameRecord successfully resolved and returned.", [
      ["", (d) => d.names.succ, "rslvSucc"],
    ]),
    metric("simplex_smp_names_not_found", "counter", "Name not registered (resolver returned 404 / 400).", [
      ["", (d) => d.names.notFound, "rslvNotFound"],
    ]),
    metric("simplex_smp_names_resolver_errs", "counter", "Resolver backend errors (HTTP 5xx, transport, decode, or timeout).", [
      ["", (d) => d.names.resolverErrs, "rslvResolverErrs"],
    ]),
    metric("simplex_smp_names_disabled", "counter", "RSLV requests rejected because no resolver is configured (names role off).", [
      ["", (d) => d.names.disabled, "rslvDisabled"],
    ]),
  ]),
];

/** What the reference reads live at each write (Prometheus.hs:RealTimeMetrics), in this server's terms. */
export interface RealTimeData {
  /** Per listener port: accepted, closed, active, leaked. */
  sockets: readonly { port: string; accepted: number; closed: number; active: number; leaked: number }[];
  threads: number;
  clients: number;
  /** Subscriptions with a message awaiting ACK, the connections holding them, and how long they wait. */
  delivered: { subs: number; clients: number; times: TimeBuckets };
  smpSubs: SubscriberData;
  ntfSubs: SubscriberData;
  /** SQLite keeps no queues in memory: the loaded-queue gauges are 0, as the reference's database store reports them. */
  version: string;
  rtsOptions: string;
}

export interface SubscriberData {
  subs: number;
  clients: number;
  services: number;
  serviceSubs: number;
}

export function renderMetrics(d: StatsData, rt: RealTimeData, nowMs: number): string {
  const ts = ` ${Math.floor(nowMs)}`;
  const out: string[] = [`# Recorded at: ${utcTimeJson(nowMs / 1000)}\n# Stats from: ${utcTimeJson(d.fromTime / 1000)}\n\n`];
  for (const s of SECTIONS) {
    out.push(`# ${s.title}\n# ${"-".repeat(s.title.length)}\n${s.gap ? "\n" : ""}`);
    for (const m of s.metrics) {
      out.push(`# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n`);
      for (const [labels, value, note] of m.samples) out.push(`${m.name}${labels} ${value(d)}${ts}\n# ${note}\n`);
      out.push("\n");
    }
  }
  out.push(realTimeText(d, rt, ts));
  return out.join("");
}

function gauge(name: string, help: string, value: number, ts: string, note?: string): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}${ts}\n${note === undefined ? "" : `# ${note}\n`}\n`;
}

/** Prometheus.hs `info` and the real-time part. */
function realTimeText(d: StatsData, rt: RealTimeData, ts: string): string {
  const parts: string[] = [
    "# Info\n# ----\n\n",
    "# HELP simplex_smp_info Server information. RTS options have to be passed via SMP_RTS_OPTIONS env var\n# TYPE simplex_smp_info gauge\n",
    `simplex_smp_info{version="${rt.version}",rts_options="${rt.rtsOptions}"} 1\n\n`,
  ];
  const sockets = (key: "accepted" | "closed" | "active" | "leaked", name: string, help: string) => {
    parts.push(`# HELP ${name} ${help}\n# TYPE ${name} gauge\n`);
    for (const s of rt.sockets) parts.push(`${name}{port="${s.port}"} ${s[key]}${ts}\n`);
    parts.push("\n");
  };
  sockets("accepted", "simplex_smp_sockets_accepted", "Accepted sockets");
  sockets("closed", "simplex_smp_sockets_closed", "Closed sockets");
  sockets("active", "simplex_smp_sockets_active", "Active sockets");
  sockets("leaked", "simplex_smp_sockets_leaked", "Leaked sockets");
  parts.push(gauge("simplex_smp_threads_total", "Threads", rt.threads, ts));
  parts.push(gauge("simplex_smp_clients_total", "Clients", rt.clients, ts));
  parts.push(gauge("simplex_smp_delivered_total", "Total SMP subscriptions with delivered messages", rt.delivered.subs, ts, "delivered.subsCount"));
  parts.push(gauge("simplex_smp_delivered_clients_total", "Subscribed clients", rt.delivered.clients, ts, "delivered.subClientsCount"));
  const acks = d.counters.msgRecv + d.counters.msgRecvGet;
  const h = "simplex_smp_delivery_ack_confirmed_time";
  parts.push(`# HELP ${h} Times to confirm message delivery, only confirmed deliveries\n# TYPE ${h} histogram\n`);
  parts.push(`${h}_sum ${d.ackTimes.sumTime}${ts}\n${h}_count ${acks}${ts}\n`);
  parts.push(timeBuckets(h, d.ackTimes.entries(), ts));
  parts.push(`${h}_bucket{le="+Inf"} ${acks}${ts}\n\n`);
  parts.push("# HELP simplex_smp_delivery_ack_confirmed_count Counts for confirmed deliveries\n# TYPE simplex_smp_delivery_ack_confirmed_count counter\n");
  parts.push(bucketSums("simplex_smp_delivery_ack_confirmed_count", d.ackTimes.entries(), ts), "\n");
  parts.push("# HELP simplex_smp_delivery_ack_pending_count Counts for pending delivery\n# TYPE simplex_smp_delivery_ack_pending_count gauge\n");
  parts.push(bucketSums("simplex_smp_delivery_ack_pending_count", rt.delivered.times.entries(), ts), "\n");
  parts.push(gauge("simplex_smp_delivery_ack_time_max", "Max time to confirm message delivery", rt.delivered.times.maxTime, ts, "delivered.maxTime"));
  const s = rt.smpSubs;
  const n = rt.ntfSubs;
  parts.push(gauge("simplex_smp_subscribtion_total", "Total SMP subscriptions", s.subs, ts, "smp.subsCount"));
  parts.push(gauge("simplex_smp_subscribtion_clients_total", "Subscribed clients", s.clients, ts, "smp.subClientsCount"));
  parts.push(gauge("simplex_smp_subscribtion_services_total", "Subscribed services, first counting method", s.services, ts, "smp.subServicesCount"));
  parts.push(gauge("simplex_smp_subscribtion_service_subs_total", "Total queues subscribed via services", s.serviceSubs, ts, "smp.subServiceSubsCount"));
  parts.push(gauge("simplex_smp_subscription_ntf_total", "Total notification subscripbtions (from ntf server)", n.subs, ts, "ntf.subsCount"));
  parts.push(gauge("simplex_smp_subscription_ntf_clients_total", "Total subscribed NTF servers", n.clients, ts, "ntf.subClientsCount"));
  parts.push(gauge("simplex_smp_subscribtion_nts_services_total", "Subscribed NTF services, first counting method", n.services, ts, "ntf.subServicesCount"));
  parts.push(gauge("simplex_smp_subscription_ntf_service_subs_total", "Total queues subscribed via NTF services", n.serviceSubs, ts, "ntf.subServiceSubsCount"));
  parts.push(gauge("simplex_smp_loaded_queues_queue_count", "Total loaded queues count (all queues for memory/journal storage)", 0, ts, "loadedCounts.loadedQueueCount"));
  parts.push(gauge("simplex_smp_loaded_queues_ntf_count", "Total loaded ntf credential references (all ntf credentials for memory/journal storage)", 0, ts, "loadedCounts.loadedNotifierCount"));
  parts.push(gauge("simplex_smp_loaded_queues_open_journal_count", "Total opened queue journals (0 for memory storage)", 0, ts, "loadedCounts.openJournalCount"));
  parts.push(gauge("simplex_smp_loaded_queues_queue_lock_count", "Total queue locks (0 for memory storage)", 0, ts, "loadedCounts.queueLockCount"));
  // The reference ends on this sample's note, without the blank line.
  parts.push(gauge("simplex_smp_loaded_queues_ntf_lock_count", "Total notifier locks (0 for memory/journal storage)", 0, ts, "loadedCounts.notifierLockCount").slice(0, -1));
  return parts.join("");
}

/** Prometheus.hs:showTimeBuckets: cumulative, with an extra bound 60 s below a bucket after a gap. */
function timeBuckets(metric: string, entries: [number, number][], ts: string): string {
  let prev = 0;
  let total = 0;
  let out = "";
  for (const [sec, count] of entries) {
    if (sec - 60 > prev) out += `${metric}_bucket{le="${sec - 60}"} ${total}${ts}\n`;
    total += count;
    out += `${metric}_bucket{le="${sec}"} ${total}${ts}\n`;
    prev = sec;
  }
  return out;
}

/**
 * Prometheus.hs:showBucketSums. Its `IM.filter` tests each bucket's count (the map's values), not
 * its time, against the period bounds; the figures are reproduced as the reference computes them.
 */
function bucketSums(metric: string, entries: [number, number][], ts: string): string {
  let out = "";
  for (const [min, max] of [[0, 60], [60, 300], [300, 1200], [1200, 3600], [3600, Infinity]] as const) {
    let sum = 0;
    for (const [, count] of entries) if (min <= count && count < max) sum += count;
    out += `${metric}{period="${min}${max <= 3600 ? `-${max}` : "+"}"} ${sum}${ts}\n`;
  }
  return out;
}
