/**
 * This router as a client's proxy (Server.hs:processProxiedCmd): PRXY opens (or reuses) the
 * connection to the destination and answers with its session and key (PKEY); PFWD passes the
 * client's encrypted command on in RFWD and returns the destination's encrypted answer (PRES).
 * The proxy sees neither the queue nor the command: both are sealed for the destination.
 */
import { constantTimeEqual } from "../../encoding/bytes.ts";
import { publicKey } from "../../crypto/keys.ts";
import { errMsg, type BrokerMsg } from "../../protocol/broker-messages.ts";
import type { Command } from "../../protocol/commands.ts";
import type { ErrorType } from "../../protocol/errors.ts";
import type { ReceivedTransmission } from "../../protocol/transmission.ts";
import { compatibleVRange, proxiedSMPRelayVRange, sendingProxySMPVersion } from "../../protocol/versions.ts";
import type { ClientAuth } from "../../transport/handle.ts";
import { SMPClient } from "../../client/client.ts";
import { SMPError } from "../../client/errors.ts";
import { fail, reply, type Client, type Env } from "../env.ts";
import { ProxyAgent } from "./agent.ts";
import { PROXY_BASIC_AUTH, PROXY_NO_AUTH, PROXY_NO_SESSION, PROXY_VERSION, proxyError } from "./errors.ts";
import { forkCmd } from "./fork.ts";
import { countProxy, isOwnServer, type ProxyCounters } from "./stats.ts";

type Cmd<T extends Command["tag"]> = Extract<Command, { tag: T }>;

/** The server's agent, created on first use. */
export function proxyAgent(srv: Env): ProxyAgent {
  return (srv.proxy ??= new ProxyAgent(srv.options.proxy, undefined, srv.stats.proxy));
}

/** Server.hs:proxyResp: the destination's session, its version range capped to 8..20, and its key. */
export function relayKey(smp: SMPClient): BrokerMsg {
  const h = smp.handle;
  const vr = compatibleVRange(h.serverVRange, proxiedSMPRelayVRange);
  if (vr === null || h.version < sendingProxySMPVersion) return errMsg(PROXY_VERSION);
  const auth = h.auth as ClientAuth | null;
  if (auth === null) return errMsg(PROXY_NO_AUTH);
  return { tag: "PKEY", sessionId: smp.sessionId, versionRange: vr, certKey: auth.peerServerCertKey };
}

/** Server.hs:proxyServerResponse and its counting (pRelays, and pRelaysOwn for own destinations). */
function relayResponse(srv: Env, hosts: readonly string[], r: SMPClient | ErrorType): BrokerMsg {
  const ps = srv.stats.proxy;
  const own = isOwnServer(srv.options.proxy.ownServerDomains, hosts) ? ps.relaysOwn : null;
  const inc = (f: keyof ProxyCounters) => countProxy(ps.relays, own, f);
  inc("requests");
  if (!(r instanceof SMPClient)) {
    // Client.hs:temporaryClientError: network, timeout and IO errors count as connection errors.
    const b = r.type === "PROXY" && r.err.type === "BROKER" ? r.err.err.type : null;
    inc(b === "NETWORK" || b === "TIMEOUT" || r.type === "INTERNAL" ? "errorsConnect" : "errorsOther");
    return errMsg(r);
  }
  const m = relayKey(r);
  inc(m.tag === "PKEY" ? "successes" : "errorsCompat");
  return m;
}

/** PRXY: allowed with the proxy on and, when the server has a password, with that password. */
export async function processPRXY(srv: Env, c: Client, t: ReceivedTransmission, cmd: Cmd<"PRXY">): Promise<void> {
  const o = srv.options;
  const pw = o.auth.createPassword;
  const allowed = o.proxy.enabled && (pw === undefined || (cmd.basicAuth !== null && constantTimeEqual(cmd.basicAuth, pw)));
  if (!allowed) return fail(c, t, PROXY_BASIC_AUTH);
  const agent = proxyAgent(srv);
  const now = agent.connected(cmd.server);
  if (now !== null) return reply(c, t, relayResponse(srv, cmd.server.hosts, now));
  const server = { hosts: [...cmd.server.hosts], port: cmd.server.port, keyHash: cmd.server.keyHash.slice() };
  await forkCmd(srv, c, o.proxy.clientConcurrency, t.corrId.slice(), t.entityId.slice(), async () =>
    relayResponse(srv, server.hosts, await agent.connect(server)),
  );
}

/** PFWD: the session named by the entity id must be one of this proxy's destination connections. */
export async function processPFWD(srv: Env, c: Client, t: ReceivedTransmission, cmd: Cmd<"PFWD">): Promise<void> {
  const agent = srv.proxy;
  const smp = agent?.lookup(t.entityId);
  const ps = srv.stats.proxy;
  if (agent === undefined || smp === undefined) {
    countProxy(ps.msgFwds, null, "requests");
    countProxy(ps.msgFwds, null, "errorsConnect");
    return fail(c, t, PROXY_NO_SESSION);
  }
  const own = isOwnServer(srv.options.proxy.ownServerDomains, smp.server.hosts) ? ps.msgFwdsOwn : null;
  countProxy(ps.msgFwds, own, "requests");
  if (smp.version < sendingProxySMPVersion) {
    countProxy(ps.msgFwds, own, "errorsCompat");
    return fail(c, t, PROXY_VERSION);
  }
  // The client's corrId is the nonce of its sealed command: the destination needs it as sent.
  const fwd = {
    fwdCorrId: t.corrId.slice(),
    fwdVersion: cmd.fwdVersion,
    fwdKey: publicKey("x25519", cmd.cmdKey.raw.slice()),
    encTransmission: cmd.encTransmission.slice(),
  };
  await forkCmd(srv, c, srv.options.proxy.clientConcurrency, fwd.fwdCorrId, t.entityId.slice(), async () => {
    try {
      const encResponse = await smp.forwardTransmission(fwd, { corrId: agent.nonce() });
      countProxy(ps.msgFwds, own, "successes");
      return { tag: "PRES", encResponse };
    } catch (e) {
      // The destination's own ERR is still a delivered answer (Server.hs counts it as success).
      countProxy(ps.msgFwds, own, e instanceof SMPError ? "successes" : "errorsOther");
      return errMsg(proxyError(e));
    }
  });
}
