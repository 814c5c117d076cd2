/**
 * The identity half of `smp-server import`: a reference installation's server identity carried over
 * unchanged, so clients keep the same address. The identity is ca.crt (its SHA-256 is the
 * fingerprint in every queue address): ca.crt and `fingerprint` are kept byte for byte. The online
 * certificate is only what TLS presents; an Ed25519 one is used as it is, while an Ed448 one (the
 * reference's old default, Server/CLI.hs:defaultX509Config) cannot be served by BoringSSL, so a new
 * Ed25519 online certificate is signed by the same CA key — Ed448 or not, the chain a client checks
 * (Transport/Client.hs:validateCertificateChain) ends in the same ca.crt.
 *
 * Never modifies, renames or deletes anything in the source directory; when both directories are the
 * same, our online certificate goes to server-ed25519.crt/.key beside the reference's pair
 * (certs.ts:onlineCredentialFiles). Idempotent: a second run finds everything in place.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { sha256 } from "../../crypto/digest.ts";
import { base64url } from "../../encoding/base64.ts";
import { bytesEqual } from "../../encoding/bytes.ts";
import { decodePubKey } from "../../crypto/keys.ts";
import { CertificateError, generateServerCert, parseCertificate, pemToDer } from "../../crypto/x509/certificate.ts";
import { x509Validate } from "../../transport/tls/chain-validation.ts";
import { certificateKeyAlg, fingerprintText, writePrivate, type OnlineFiles } from "../certs.ts";
import { CliError } from "../errors.ts";
import { FILES } from "../paths.ts";

/** Lines of importIdentity's answer that start with this mean the identity cannot serve yet. */
export const IDENTITY_ERROR = "Error: ";

/** The common name when the reference's server.crt has none (clients do not check it). */
const FALLBACK_CN = "127.0.0.1";

function canonical(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new CliError(`Error: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Why an online certificate/key pair cannot be served under `caDer`, or null when it can. */
function onlineProblem(files: OnlineFiles, caDer: Uint8Array): string | null {
  if (!existsSync(files.crt)) return `${files.crt} does not exist`;
  if (!existsSync(files.key)) return `${files.key} does not exist`;
  let leaf: Uint8Array;
  try {
    leaf = pemToDer(readFileSync(files.crt, "utf8"));
  } catch (e) {
    return `${files.crt}: ${(e as Error).message}`;
  }
  const alg = certificateKeyAlg(files.crt);
  if (alg !== "ed25519") return `${files.crt} holds an ${alg === undefined ? "unreadable" : alg === "ed448" ? "Ed448" : alg} key, which this server cannot serve`;
  let keySpki: Uint8Array;
  try {
    const key = createPrivateKey(readFileSync(files.key, "utf8"));
    if (key.asymmetricKeyType !== "ed25519") return `${files.key} is not an Ed25519 key`;
    keySpki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  } catch (e) {
    return `${files.key}: cannot read the key: ${(e as Error).message}`;
  }
  if (!bytesEqual(keySpki, parseCertificate(leaf).spki)) return `${files.key} does not belong to ${files.crt}`;
  const failure = x509Validate(caDer, [leaf, caDer]);
  return failure === null ? null : `${files.crt} is not a valid certificate from this CA (${failure})`;
}

/**
 * Carries the identity in `fromConfigDir` (a reference installation's configuration directory) into
 * `toConfigDir` (may be the same). Returns what it did (or, with dryRun, would do), one line each;
 * a line starting with IDENTITY_ERROR says what the operator must still do. Throws CliError when
 * the identity cannot be imported at all (no ca.crt, a fingerprint that does not match it, another
 * identity already in toConfigDir).
 */
export async function importIdentity(fromConfigDir: string, toConfigDir: string, opts: { dryRun: boolean }): Promise<string[]> {
  const lines: string[] = [];
  const would = (done: string, planned: string) => (opts.dryRun ? planned : done);
  const same = canonical(fromConfigDir) === canonical(toConfigDir);
  const from = (f: string) => join(fromConfigDir, f);
  const to = (f: string) => join(toConfigDir, f);

  // ---- the identity: ca.crt and fingerprint
  const caPath = from(FILES.caCrt);
  if (!existsSync(caPath)) throw new CliError(`Error: ${caPath} not found: ${fromConfigDir} is not a server configuration directory (the reference keeps ca.crt, server.crt, fingerprint and smp-server.ini there)`);
  const caBytes = readBytes(caPath);
  let caDer: Uint8Array;
  try {
    caDer = pemToDer(caBytes.toString("latin1"));
    parseCertificate(caDer);
  } catch (e) {
    throw new CliError(`Error: ${caPath}: ${(e as CertificateError).message}`);
  }
  const fpText = fingerprintText(caDer);
  const fp = fpText.trimEnd();
  const fpPath = from(FILES.fingerprint);
  const fpBytes = existsSync(fpPath) ? readBytes(fpPath) : undefined;
  const saved = fpBytes?.toString("latin1").split("\n")[0];
  if (saved !== undefined && saved !== fp)
    throw new CliError(
      `Error: ${fpPath} holds ${JSON.stringify(saved)}, but the fingerprint of ${caPath} (base64url SHA-256 of its DER) is ${fp}. ` +
        "The two files do not belong to the same server identity; nothing was imported.",
    );
  lines.push(`Identity: fingerprint ${fp} (SHA-256 of ${caPath}); the server address keeps it.`);

  // ca.crt and fingerprint, byte for byte (a missing fingerprint file is written as the reference would).
  const copies: { name: string; bytes: Uint8Array; origin: string }[] = [
    { name: FILES.caCrt, bytes: caBytes, origin: `copied byte for byte from ${caPath}` },
    fpBytes === undefined
      ? { name: FILES.fingerprint, bytes: new TextEncoder().encode(fpText), origin: `written from ${caPath} (${fpPath} does not exist)` }
      : { name: FILES.fingerprint, bytes: fpBytes, origin: `copied byte for byte from ${fpPath}` },
  ];
  if (!same && !opts.dryRun) mkdirSync(toConfigDir, { recursive: true, mode: 0o700 });
  for (const c of copies) {
    const dst = to(c.name);
    if (existsSync(dst)) {
      if (same || bytesEqual(readBytes(dst), c.bytes)) {
        lines.push(same ? `${dst}: kept as it is` : `${dst}: already identical to ${from(c.name)}`);
        continue;
      }
      throw new CliError(
        `Error: ${dst} already exists and differs from ${from(c.name)}: ${toConfigDir} holds another server identity. ` +
          "Nothing was replaced; import into an empty configuration directory (--config-dir), or remove that identity first (`smp-server delete`) if it is not in use.",
      );
    }
    if (!opts.dryRun) writeFileSync(dst, c.bytes);
    lines.push(`${dst}: ${would(c.origin, `would be ${c.origin}`)}`);
  }
  const caKeyPath = from(FILES.caKey);
  if (!same && existsSync(caKeyPath))
    lines.push(`${caKeyPath}: not copied (the CA key belongs offline); \`smp-server cert --ca-key ${caKeyPath} --config-dir ${toConfigDir}\` issues the next online certificate`);

  // ---- the online certificate
  const refPair: OnlineFiles = { crt: from(FILES.serverCrt), key: from(FILES.serverKey) };
  const ownPair: OnlineFiles = { crt: to(FILES.onlineCrt), key: to(FILES.onlineKey) };
  const plainPair: OnlineFiles = { crt: to(FILES.serverCrt), key: to(FILES.serverKey) };
  // In place, ours goes beside the reference's pair; in a directory of our own it is the plain pair.
  const target = same ? ownPair : existsSync(ownPair.crt) ? ownPair : plainPair;

  if (onlineProblem(target, caDer) === null) {
    lines.push(`${target.crt}: Ed25519 online certificate signed by ${caPath}, kept as it is`);
    return lines;
  }
  const refProblem = onlineProblem(refPair, caDer);
  if (refProblem === null) {
    if (same) {
      lines.push(`${refPair.crt}: Ed25519 online certificate signed by ${caPath}, served as it is`);
      return lines;
    }
    for (const [src, dst] of [[refPair.key, plainPair.key], [refPair.crt, plainPair.crt]] as const) {
      if (existsSync(dst)) throw new CliError(`Error: ${dst} already exists and cannot be served under ${caPath} (${onlineProblem(plainPair, caDer)}); nothing was replaced. Remove it or import into an empty --config-dir.`);
      if (!opts.dryRun) {
        if (dst === plainPair.key) writePrivate(dst, readFileSync(src, "utf8"));
        else writeFileSync(dst, readFileSync(src));
      }
      lines.push(`${dst}: ${would("copied byte for byte", "would be copied byte for byte")} from ${src} (Ed25519 online certificate signed by ${caPath})`);
    }
    return lines;
  }

  // A new Ed25519 online certificate from the same CA key.
  const refAlg = existsSync(refPair.crt) ? certificateKeyAlg(refPair.crt) : undefined;
  const why = refAlg === "ed448" ? `${refPair.crt} is Ed448, which BoringSSL cannot serve` : refProblem;
  if (target === plainPair && (existsSync(plainPair.crt) || existsSync(plainPair.key)))
    throw new CliError(`Error: ${why}, and ${plainPair.crt} / ${plainPair.key} already exist without being usable (${onlineProblem(plainPair, caDer)}); nothing was replaced. Remove them or import into an empty --config-dir.`);
  let cn = FALLBACK_CN;
  try {
    cn = parseCertificate(pemToDer(readFileSync(refPair.crt, "utf8"))).subjectCommonName ?? FALLBACK_CN;
  } catch {
    // no readable reference certificate: clients do not check the common name
  }
  if (!existsSync(caKeyPath)) {
    lines.push(
      `${IDENTITY_ERROR}${why}, and the CA private key is not in ${fromConfigDir} (kept offline, as the reference advises), so no new online certificate can be issued here. ` +
        `On the machine that holds ca.key, in a directory with copies of ${caPath} and ${refPair.crt}, run:\n` +
        `  smp-server cert --ca-key /path/to/ca.key --config-dir .\n` +
        `then copy the ${FILES.onlineCrt} and ${FILES.onlineKey} it writes into ${toConfigDir} (ca.key never needs to leave its machine).`,
    );
    return lines;
  }
  if (opts.dryRun) {
    lines.push(`${target.crt}, ${target.key}: would be a new Ed25519 online certificate (CN ${cn}) signed by ${caKeyPath}, because ${why}`);
    return lines;
  }
  let server;
  try {
    server = generateServerCert({ der: caDer, keyPem: readBytes(caKeyPath).toString("utf8") }, cn);
  } catch (e) {
    throw new CliError(`Error: cannot issue an online certificate with ${caKeyPath}: ${(e as Error).message}`);
  }
  const failure = x509Validate(caDer, [server.der, caDer]);
  if (failure !== null) throw new CliError(`Error: the new online certificate does not validate under ${caPath} (${failure}); nothing was written`);
  writePrivate(target.key, server.keyPem);
  writeFileSync(target.crt, server.pem);
  lines.push(`${target.crt}, ${target.key}: new Ed25519 online certificate (CN ${cn}) signed by ${caKeyPath} (${caAlg(caDer)} CA), because ${why}`);
  return lines;
}

function caAlg(caDer: Uint8Array): string {
  try {
    return decodePubKey(parseCertificate(caDer).spki).alg === "ed448" ? "Ed448" : "Ed25519";
  } catch {
    return "unknown";
  }
}
