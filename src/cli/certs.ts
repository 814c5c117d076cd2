/**
 * Certificates on disk (Server/CLI.hs:createServerX509_, genOnline, checkSavedFingerprint):
 * ca.key/ca.crt (offline identity), server.key/server.crt (online TLS) — or server-ed25519.key/.crt
 * beside a reference's Ed448 pair — and `fingerprint`.
 */
import { createPrivateKey } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { base64url } from "../encoding/base64.ts";
import { constantTimeEqual } from "../encoding/bytes.ts";
import { sha256 } from "../crypto/digest.ts";
import { decodePubKey } from "../crypto/keys.ts";
import { CertificateError, generateCa, generateServerCert, parseCertificate, pemToDer } from "../crypto/x509/certificate.ts";
import type { Credentials } from "../server/options.ts";
import { generateWebCertificate } from "../crypto/x509/web-certificate.ts";
import { FILES, WEB_FILES } from "./paths.ts";

export class CertFileError extends Error {
  override name = "CertFileError";
}

export function writePrivate(path: string, data: string): void {
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

/** The online certificate and key this server serves, as paths. */
export interface OnlineFiles {
  crt: string;
  key: string;
}

/** The algorithm of a certificate file's public key, or undefined when it cannot be read. */
export function certificateKeyAlg(path: string): string | undefined {
  try {
    return decodePubKey(parseCertificate(pemToDer(readFileSync(path, "utf8"))).spki).alg;
  } catch {
    return undefined;
  }
}

/**
 * server-ed25519.crt/.key when they exist or when server.crt holds a non-Ed25519 (a reference
 * Ed448) key, so that a reference installation's own files stay untouched; else server.crt/.key.
 */
export function onlineCredentialFiles(configDir: string): OnlineFiles {
  const own = { crt: join(configDir, FILES.onlineCrt), key: join(configDir, FILES.onlineKey) };
  if (existsSync(own.crt)) return own;
  const crt = join(configDir, FILES.serverCrt);
  const alg = existsSync(crt) ? certificateKeyAlg(crt) : undefined;
  return alg !== undefined && alg !== "ed25519" ? own : { crt, key: join(configDir, FILES.serverKey) };
}

export interface CertSource {
  /** CA private key file (default: ca.key in the configuration directory). */
  caKey?: string;
  /** CA certificate file (default: ca.crt in the configuration directory). */
  caCert?: string;
}

/**
 * The `cert` verb: a new Ed25519 online certificate signed by the existing CA (Ed25519 or Ed448);
 * the identity (fingerprint) stays. The common name defaults to the current certificate's, as in
 * Server/CLI.hs:genOnline. Written where onlineCredentialFiles says; returns the CN and the files.
 */
export function regenerateServerCert(configDir: string, commonName?: string, src: CertSource = {}): { cn: string; files: OnlineFiles } {
  const caKeyPath = src.caKey ?? join(configDir, FILES.caKey);
  const caCrtPath = src.caCert ?? join(configDir, FILES.caCrt);
  if (!existsSync(caCrtPath)) throw new CertFileError(`server is not initialized: no CA certificate at ${caCrtPath} (run \`smp-server init\`, or pass --ca-cert FILE)`);
  if (!existsSync(caKeyPath)) throw new CertFileError(`CA private key not found at ${caKeyPath} (copy it back from offline storage, or pass --ca-key FILE, to issue a new server certificate)`);
  const caDer = pemToDer(read(caCrtPath));
  const files = onlineCredentialFiles(configDir);
  let cn = commonName;
  if (cn === undefined) {
    const current = [files.crt, join(configDir, FILES.serverCrt)].find((f) => existsSync(f));
    if (current === undefined) throw new CertFileError(`no current server certificate in ${configDir} to take the common name from; pass --cn`);
    cn = parseCertificate(pemToDer(read(current))).subjectCommonName;
    if (cn === undefined) throw new CertFileError(`certificate subject has no CN element in ${current}; pass --cn`);
  }
  const server = generateServerCert({ der: caDer, keyPem: read(caKeyPath) }, cn);
  writePrivate(files.key, server.keyPem);
  writeFileSync(files.crt, server.pem);
  return { cn, files };
}

/** `init --web-cert self-signed`: web.crt/web.key for the HTTPS pages (callers check they do not exist). */
export function createWebCertificate(configDir: string, hosts: string[]): void {
  const cert = generateWebCertificate([...new Set(hosts)]);
  writePrivate(join(configDir, WEB_FILES.key), cert.keyPem);
  writeFileSync(join(configDir, WEB_FILES.cert), cert.pem);
}

/**
 * Server/CLI.hs:checkSavedFingerprint — the stored fingerprint must match ca.crt; returns it. A
 * mismatch names both files and both values: one of them was replaced, and clients know the first.
 */
export function checkSavedFingerprint(configDir: string): Uint8Array {
  const fpPath = join(configDir, FILES.fingerprint);
  const caPath = join(configDir, FILES.caCrt);
  const saved = read(fpPath).split("\n")[0];
  const fp = sha256(pemToDer(read(caPath)));
  const enc = new TextEncoder();
  if (!constantTimeEqual(enc.encode(saved), enc.encode(base64url(fp))))
    throw new CertFileError(
      `Stored fingerprint is invalid.\n${fpPath} holds ${JSON.stringify(saved)}, but the fingerprint of ${caPath} (base64url SHA-256 of its DER) is ${base64url(fp)}. ` +
        "The two files do not belong to the same server identity; restore the pair clients know (nothing was changed).",
    );
  return fp;
}

/** Everything the TLS listener and the server hello need (Transport/Server.hs:loadServerCredential). */
export function loadCredentials(configDir: string): Credentials {
  const files = onlineCredentialFiles(configDir);
  if (files.crt.endsWith(FILES.onlineCrt) && !existsSync(files.crt))
    throw new CertFileError(
      `${join(configDir, FILES.serverCrt)} is an Ed448 certificate (the reference's default), which this server cannot serve: ` +
        `run \`smp-server import\` or \`smp-server cert\` (with the CA key) to issue an Ed25519 online certificate under the same identity, written as ${FILES.onlineCrt} and ${FILES.onlineKey}`,
    );
  const certPem = read(files.crt);
  const caPem = read(join(configDir, FILES.caCrt));
  const keyPem = read(files.key);
  try {
    const serverDer = pemToDer(certPem);
    const caDer = pemToDer(caPem);
    const key = createPrivateKey(keyPem);
    if (key.asymmetricKeyType !== "ed25519") throw new CertFileError(`${files.key} is ${key.asymmetricKeyType}; only Ed25519 keys are supported`);
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
