/**
 * What `init` and `start` print about the server (Server/CLI.hs:printServiceInfo,
 * Server/Main.hs:printSourceCode). Apart from init.ts: `start` prints it on every start and should
 * not load `init`'s code (the configuration template, certificate creation) to do so.
 */
import { base64url } from "../encoding/base64.ts";
import type { Out } from "./errors.ts";
import { SERVER_VERSION_LINE } from "./version.ts";

/** The placeholder host of an address whose host is not configured yet. */
export const NO_HOST = "<hostnames>";

/**
 * Server/CLI.hs:printServiceInfo; with `qr` (qr.ts:terminalQr, which the caller loads) the address
 * as a QR code too.
 */
export function printServiceInfo(fingerprint: Uint8Array, address: string, out: Out, qr?: (text: string) => string): void {
  out(SERVER_VERSION_LINE);
  out(`Fingerprint: ${base64url(fingerprint)}`);
  out(`Server address: ${address}`);
  // A QR code of a placeholder host would only mislead: shown once the host is known.
  if (qr !== undefined && !address.includes(NO_HOST)) out(qr(address));
}

/** Server/Main.hs:printSourceCode. */
export function printSourceCode(sourceCode: string | undefined, out: Out): void {
  if (sourceCode !== undefined) out(`Server source code: ${sourceCode}`);
  else {
    out("Warning: server source code is not specified.");
    out("Add 'source_code' property to [INFORMATION] section of smp-server.toml.");
  }
}
