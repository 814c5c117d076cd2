/**
 * What the web site shows: the operator's public information (Server/Information.hs:
 * ServerPublicInfo, from `[INFORMATION]`) and the server's public configuration facts
 * (ServerPublicConfig), plus the address clients add.
 */
export const HOSTING_TYPES = ["virtual", "dedicated", "colocation", "owned"] as const;
export type HostingType = (typeof HOSTING_TYPES)[number];

export interface Entity {
  name: string;
  country?: string;
}

export interface Contacts {
  simplex?: string;
  email?: string;
  pgp?: { keyUri: string; fingerprint: string };
}

/** Public server information; present only with source_code (AGPLv3 requires it). */
export interface InformationConfig {
  sourceCode: string;
  usageConditions?: { conditions: string; amendments?: string };
  serverCountry?: string;
  operator?: Entity;
  website?: string;
  adminContacts?: Contacts;
  complaintsContacts?: Contacts;
  hosting?: Entity;
  hostingType?: HostingType;
}

/** Server/Information.hs:ServerPublicConfig, as SMPWeb.hs:serverInformation shows it. */
export interface PublicConfig {
  /** false: queues and messages are in memory only (SPMMemoryOnly). */
  persistent: boolean;
  messageExpirationSeconds?: number;
  statsEnabled: boolean;
  newQueuesAllowed: boolean;
  basicAuthEnabled: boolean;
}

export interface SiteInput {
  information?: InformationConfig;
  config: PublicConfig;
  /** Product version line for the page. */
  version: string;
  /** The address clients add — never with the queue-creation password. */
  serverAddress?: string;
  /** Hex-free identity shown when no host name is configured (base64url of the CA hash). */
  fingerprint: string;
  /** The first .onion host of `[TRANSPORT] host`, announced with Onion-Location. */
  onionHost?: string;
}
