/**
 * Certificates on disk (Server/CLI.hs:createServerX509_, genOnline, checkSavedFingerprint):
 * ca.key/ca.crt (offline identity), server.key/server.crt (online TLS), and `fingerprint`.
 */
import { createPrivateKey } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { base64url } from "../encoding/base64.ts";
import { constantTimeEqual } from "../encoding/bytes.ts";
import { sha256 } from "../crypto/digest.ts";
import { CertificateError, generateCa, generateServerCert, parseCertificate, pemToDer } from "../crypto/x509/certificate.ts";
import type { Credentials } from "../server/options.ts";
import { generateWebCertificate } from "../crypto/x509/web-certificate.ts";
import { FILES } from "./paths.ts";

export class CertFileError extends Error {
  override name = "CertFileError";
}

function writePrivate(path: string, data: string): void {
  writeFileSync(path, data, { mode: 0o600 });
  chmodSync(path, 0o600); // mode is ignored when the file already existed
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new CertFileError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** `fingerprint` file content: base64url (with padding) of SHA-256(ca.crt DER), newline-terminated. */
export function fingerprintText(caDer: Uint8Array): string {
  return base64url(sha256(caDer)) + "\n";
}

/** Creates the CA and server certificates and the fingerprint file; returns SHA-256(ca.crt DER). */
export function createCertificates(configDir: string, commonName: string): Uint8Array {
  const ca = generateCa();
  writePrivate(join(configDir, FILES.caKey), ca.keyPem);
  writeFileSync(join(configDir, FILES.caCrt), ca.pem);
  writeServerCert(configDir, ca, commonName);
  writeFileSync(join(configDir, FILES.fingerprint), fingerprintText(ca.der));
  return sha256(ca.der);
}

function writeServerCert(configDir: string, ca: { der: Uint8Array; keyPem: string }, commonName: string): void {
  const server = generateServerCert(ca, commonName);
  writePrivate(join(configDir, FILES.serverKey), server.keyPem);
  writeFileSync(join(configDir, FILES.serverCrt), server.pem);
}

/**
 * The `cert` verb: new server.key/server.crt signed by the existing CA; the identity (fingerprint)
 * stays. The common name defaults to the current certificate's, as in Server/CLI.hs:genOnline.
 */
export function regenerateServerCert(configDir: string, commonName?: string): string {
  const caKeyPath = join(configDir, FILES.caKey);
  if (!existsSync(caKeyPath)) throw new CertFileError(`CA private key not found at ${caKeyPath} (copy it back from offline storage to issue a new server certificate)`);
  const caDer = pemToDer(read(join(configDir, FILES.caCrt)));
  let cn = commonName;
  if (cn === undefined) {
    const current = join(configDir, FILES.serverCrt);
    cn = parseCertificate(pemToDer(read(current))).subjectCommonName;
    if (cn === undefined) throw new CertFileError(`certificate subject has no CN element in ${current}; pass --cn`);
  }
  writeServerCert(configDir, { der: caDer, keyPem: read(caKeyPath) }, cn);
  return cn;
}

/** The web certificate files `init` writes and its [WEB] section names. */
export const WEB_FILES = { cert: "web.crt", key: "web.key" } as const;

/** `init --web-cert self-signed`: web.crt/web.key for the HTTPS pages (callers check they do not exist). */
export function createWebCertificate(configDir: string, hosts: string[]): void {
  const cert = generateWebCertificate([...new Set(hosts)]);
  writePrivate(join(configDir, WEB_FILES.key), cert.keyPem);
  writeFileSync(join(configDir, WEB_FILES.cert), cert.pem);
}

/** Server/CLI.hs:checkSavedFingerprint — the stored fingerprint must match ca.crt; returns it. */
export function checkSavedFingerprint(configDir: string): Uint8Array {
  const saved = read(join(configDir, FILES.fingerprint)).split("\n")[0];
  const fp = sha256(pemToDer(read(join(configDir, FILES.caCrt))));
  const enc = new TextEncoder();
  if (!constantTimeEqual(enc.encode(saved), enc.encode(base64url(fp)))) throw new CertFileError("Stored fingerprint is invalid.");
  return fp;
}

/** Everything the TLS listener and the server hello need (Transport/Server.hs:loadServerCredential). */
export function loadCredentials(configDir: string): Credentials {
  const certPem = read(join(configDir, FILES.serverCrt));
  const caPem = read(join(configDir, FILES.caCrt));
  const keyPem = read(join(configDir, FILES.serverKey));
  try {
    const serverDer = pemToDer(certPem);
    const caDer = pemToDer(caPem);
    const key = createPrivateKey(keyPem);
    if (key.asymmetricKeyType !== "ed25519") throw new CertFileError(`server.key is ${key.asymmetricKeyType}; only Ed25519 keys are supported`);
    return {
      chainDer: [serverDer, caDer],
      certPem,
      caPem,
      keyPem,
      serverKeyPkcs8: new Uint8Array(key.export({ type: "pkcs8", format: "der" })),
      fingerprint: sha256(caDer),
    };
  } catch (e) {
    if (e instanceof CertFileError) throw e;
    if (e instanceof CertificateError) throw new CertFileError(`${configDir}: ${e.message}`);
    throw new CertFileError(`${configDir}: cannot load server credentials: ${(e as Error).message}`);
  }
}
