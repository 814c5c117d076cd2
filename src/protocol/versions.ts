/**
 * SMP relay protocol versions (Transport.hs version constants) and version ranges (Version.hs).
 * Every version-dependent encoding in this layer compares against one of these names, never a bare number.
 */
import type { Reader } from "../encoding/reader.ts";
import { ParseError } from "../encoding/reader.ts";
import type { Writer } from "../encoding/writer.ts";

export type Version = number;

// subModeSMPVersion = 6 is the lowest version spoken: nothing depends on it.
export const authCmdsSMPVersion = 7;
export const sendingProxySMPVersion = 8;
export const sndAuthKeySMPVersion = 9;
export const deletedEventSMPVersion = 10;
export const encryptedBlockSMPVersion = 11;
export const blockedEntitySMPVersion = 12;
export const proxyServerHandshakeSMPVersion = 14;
export const shortLinksSMPVersion = 15;
export const serviceCertsSMPVersion = 16;
export const newNtfCredsSMPVersion = 17;
export const clientNoticesSMPVersion = 18;
export const rcvServiceSMPVersion = 19;
export const namesSMPVersion = 20;

export const minServerSMPRelayVersion = 6;
export const minClientSMPRelayVersion = 6;
export const legacyServerSMPRelayVersion = 6;
export const currentServerSMPRelayVersion = 20;
export const currentClientSMPRelayVersion = 20;
/** Max version offered to relays through a proxy (pinned to current for names, Transport.hs comment). */
export const proxiedSMPRelayVersion = 20;

export interface VersionRange {
  readonly min: Version;
  readonly max: Version;
}

export function versionRange(min: Version, max: Version): VersionRange {
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max > 0xffff || min > max) {
    throw new RangeError(`invalid version range ${min}..${max}`);
  }
  return Object.freeze({ min, max });
}

export const supportedServerSMPRelayVRange = versionRange(minServerSMPRelayVersion, currentServerSMPRelayVersion);
/** Offered when the TLS handshake negotiated no ALPN at all (Transport.hs:smpServerHandshake). */
export const legacyServerSMPRelayVRange = versionRange(minServerSMPRelayVersion, legacyServerSMPRelayVersion);
export const supportedClientSMPRelayVRange = versionRange(minClientSMPRelayVersion, currentClientSMPRelayVersion);
export const supportedProxyClientSMPRelayVRange = versionRange(minServerSMPRelayVersion, currentServerSMPRelayVersion);
export const proxiedSMPRelayVRange = versionRange(sendingProxySMPVersion, proxiedSMPRelayVersion);

/** `Word16 min ‖ Word16 max` (Version.hs:Encoding VersionRange). */
export function encodeVersionRange(w: Writer, r: VersionRange): void {
  w.word16(r.min).word16(r.max);
}

export function parseVersionRange(r: Reader): VersionRange {
  const min = r.word16();
  const max = r.word16();
  if (min > max) throw new ParseError("invalid version range");
  return Object.freeze({ min, max });
}

/** Intersection of two ranges, null if empty (Version.hs:compatibleVRange). */
export function compatibleVRange(a: VersionRange, b: VersionRange): VersionRange | null {
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return min <= max ? Object.freeze({ min, max }) : null;
}

/** `range.min .. v` if v lies within range, else null (Version.hs:compatibleVRange'). */
export function compatibleVRangeTo(range: VersionRange, v: Version): VersionRange | null {
  if (v > range.max || range.min > v) return null;
  return Object.freeze({ min: range.min, max: v });
}

/** Highest common version, null if the ranges do not overlap (Version.hs:compatibleVersion). */
export function compatibleVersion(a: VersionRange, b: VersionRange): Version | null {
  const r = compatibleVRange(a, b);
  return r === null ? null : r.max;
}

/** Maximum SEND body length at version v (Protocol.hs:maxMessageLength). */
export function maxMessageLength(v: Version): number {
  if (v >= encryptedBlockSMPVersion) return 16048;
  if (v >= sendingProxySMPVersion) return 16064;
  return 16088;
}

/** Padded length of the inner proxied transmission / response (Protocol.hs:paddedProxiedTLength). */
export const paddedProxiedTLength = 16226;
