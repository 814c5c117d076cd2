/**
 * The printed server address, encoded as Protocol.hs:strEncodeServer does:
 * `smp://<base64url(keyHash)>[:<basicAuth>]@<hosts>[:<port>]`.
 */
import { utf8 } from "../encoding/bytes.ts";
import { strEncodeServer } from "../protocol/server-address.ts";

/** SMP clients' default port (Transport/Client.hs:defaultSMPPort): omitted from the address. */
export const DEFAULT_SMP_PORT = 5223;

/** `host` is printed as given (the reference prints the INI text, even the `<hostnames>` placeholder). */
export function serverAddress(fingerprint: Uint8Array, password: string | undefined, host: string, port?: string): string {
  return strEncodeServer({ hosts: [host], port: port ?? "", keyHash: fingerprint }, password === undefined ? null : utf8(password));
}

/**
 * The port shown at start. The reference appends the raw INI `port` value unless it is exactly
 * "5223", so its default "5223,443" prints an address clients cannot parse (`…@host:5223,443`).
 * We omit the port whenever 5223 is served (clients' default) and otherwise show the first port.
 */
export function addressPort(ports: readonly number[]): string | undefined {
  if (ports.includes(DEFAULT_SMP_PORT) || ports.length === 0) return undefined;
  return String(ports[0]);
}
