/**
 * Who sends each command and what credentials it must carry (Protocol.hs:Party, partyClientRole,
 * checkCredentials for Command p, useServiceAuth).
 */
import { ERR, type ErrorType } from "./errors.ts";
import type { Command, CommandTag } from "./commands.ts";

export type Party =
  | "Creator"
  | "Recipient"
  | "RecipientService"
  | "Sender"
  | "IdleClient"
  | "LinkClient"
  | "Notifier"
  | "NotifierService"
  | "ProxiedClient"
  | "ProxyService"
  | "Resolver";

/** Service roles as in the client hello (Transport.hs:SMPServiceRole): Messaging, Notifier, Proxy. */
export type ServiceRole = "M" | "N" | "P";

const PARTY: Record<CommandTag, Party> = {
  NEW: "Creator",
  SUB: "Recipient",
  KEY: "Recipient",
  RKEY: "Recipient",
  LSET: "Recipient",
  LDEL: "Recipient",
  NKEY: "Recipient",
  NDEL: "Recipient",
  GET: "Recipient",
  ACK: "Recipient",
  OFF: "Recipient",
  DEL: "Recipient",
  QUE: "Recipient",
  SUBS: "RecipientService",
  SKEY: "Sender",
  SEND: "Sender",
  PING: "IdleClient",
  LKEY: "LinkClient",
  LGET: "LinkClient",
  NSUB: "Notifier",
  NSUBS: "NotifierService",
  PRXY: "ProxiedClient",
  PFWD: "ProxiedClient",
  RFWD: "ProxyService",
  RSLV: "Resolver",
};

export function commandParty(tag: CommandTag): Party {
  return PARTY[tag];
}

/** The service role a command belongs to; null = allowed in any session (PING). */
export function partyClientRole(p: Party): ServiceRole | null {
  switch (p) {
    case "IdleClient":
      return null;
    case "Notifier":
    case "NotifierService":
      return "N";
    case "ProxyService":
      return "P";
    default:
      return "M";
  }
}

/** NEW, SUB and NSUB carry the service signature in service sessions (Protocol.hs:useServiceAuth). */
export function useServiceAuth(tag: CommandTag): boolean {
  return tag === "NEW" || tag === "SUB" || tag === "NSUB";
}

/**
 * Credential shape (Protocol.hs:checkCredentials), checked right after parsing, before any lookup.
 * `hasAuth` = the transmission carried a non-empty authorization. Returns the error to answer, or null.
 */
export function checkCredentials(cmd: Command, hasAuth: boolean, entityId: Uint8Array): ErrorType | null {
  const noEntity = entityId.length === 0;
  switch (cmd.tag) {
    case "NEW":
      if (!hasAuth) return ERR.CMD_NO_AUTH;
      return noEntity ? null : ERR.CMD_HAS_AUTH;
    case "SEND":
      return noEntity ? ERR.CMD_NO_ENTITY : null;
    case "LGET":
    case "PFWD":
      if (noEntity) return ERR.CMD_NO_ENTITY;
      return hasAuth ? ERR.CMD_HAS_AUTH : null;
    case "PING":
    case "PRXY":
    case "RFWD":
    case "RSLV":
      return !hasAuth && noEntity ? null : ERR.CMD_HAS_AUTH;
    default:
      // SUB, NSUB and every other command need both an authorization and an entity.
      return hasAuth && !noEntity ? null : ERR.CMD_NO_AUTH;
  }
}
