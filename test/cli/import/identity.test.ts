/**
 * importIdentity and `cert` on reference installations made with the reference's own openssl steps
 * (Server/CLI.hs:createServerX509_): the fingerprint and ca.crt survive byte for byte, an Ed448
 * online certificate is replaced by an Ed25519 one from the same (Ed448) CA key, nothing in the
 * reference's directory is modified, a second run changes nothing — and a real server on the
 * imported identity completes an SMP handshake with a client that pins the original fingerprint.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCredentials, onlineCredentialFiles } from "../../../src/cli/certs.ts";
import { CliError } from "../../../src/cli/errors.ts";
import { IDENTITY_ERROR, importIdentity } from "../../../src/cli/import/identity.ts";
import { SMPClient } from "../../../src/client/client.ts";
import { decodePubKey } from "../../../src/crypto/keys.ts";
import { parseCertificate, pemToDer } from "../../../src/crypto/x509/certificate.ts";
import { fromBase64url as base64urlDecode } from "../../../src/encoding/base64.ts";
import { startServer } from "../../../src/server/index.ts";
import { validateServerChain, x509Validate } from "../../../src/transport/tls/chain-validation.ts";
import { checksums, hasOpenssl, makeReferenceCertificates, opensslVerify, referenceFingerprint } from "../../fixtures/reference-identity.ts";
import { runCli } from "../../fixtures/run-cli.ts";
import { tempDirs } from "../../fixtures/temp-dirs.ts";
import { testOptions } from "../../server/harness.ts";

const tempDir = tempDirs("smp-identity-");

/** A reference configuration directory: certificates as openssl makes them plus an INI. */
function referenceDir(alg: "ED448" | "ED25519"): string {
  const d = join(tempDir(), "etc");
  mkdirSync(d);
  makeReferenceCertificates(d, alg, "smp.example.com");
  writeFileSync(join(d, "smp-server.ini"), "[TRANSPORT]\nport = 5223,443\nwebsockets = off\n");
  return d;
}

const der = (file: string) => pemToDer(readFileSync(file, "utf8"));
const keyAlg = (file: string) => decodePubKey(parseCertificate(der(file)).spki).alg;
const fileFingerprint = (dir: string) => readFileSync(join(dir, "fingerprint"), "utf8").split("\n")[0];

/** The online certificate chains to ca.crt by openssl and by our validation, and the fingerprint is the file's. */
function expectServable(dir: string): void {
  const files = onlineCredentialFiles(dir);
  expect(keyAlg(files.crt)).toBe("ed25519");
  expect(opensslVerify(join(dir, "ca.crt"), files.crt)).toEqual({ code: 0, out: `${files.crt}: OK\n` });
  const caDer = der(join(dir, "ca.crt"));
  expect(x509Validate(caDer, [der(files.crt), caDer])).toBeNull();
  const keyHash = base64urlDecode(fileFingerprint(dir));
  expect(validateServerChain(keyHash, [der(files.crt), caDer])).toEqual({ ok: true });
  expect(loadCredentials(dir).fingerprint).toEqual(keyHash);
}

describe.skipIf(!hasOpenssl)("importIdentity", () => {
  test("Ed448 identity in place: a new Ed25519 online certificate from the Ed448 CA key beside the reference's files, which stay byte for byte", async () => {
    const dir = referenceDir("ED448");
    expect(keyAlg(join(dir, "ca.crt"))).toBe("ed448");
    expect(keyAlg(join(dir, "server.crt"))).toBe("ed448");
    const before = checksums(dir);

    const dry = await importIdentity(dir, dir, { dryRun: true });
    expect(checksums(dir)).toEqual(before);
    expect(dry.join("\n")).toContain("would be a new Ed25519 online certificate (CN smp.example.com)");

    const lines = await importIdentity(dir, dir, { dryRun: false });
    expect(lines[0]).toBe(`Identity: fingerprint ${referenceFingerprint(dir)} (SHA-256 of ${join(dir, "ca.crt")}); the server address keeps it.`);
    expect(lines.some((l) => l.startsWith(IDENTITY_ERROR))).toBe(false);
    const after = checksums(dir);
    for (const [f, sum] of Object.entries(before)) expect(after[f]).toBe(sum);
    expect(Object.keys(after).filter((f) => !(f in before))).toEqual(["server-ed25519.crt", "server-ed25519.key"]);
    expect(statSync(join(dir, "server-ed25519.key")).mode & 0o777).toBe(0o600);
    expect(parseCertificate(der(join(dir, "server-ed25519.crt"))).subjectCommonName).toBe("smp.example.com");
    expect(fileFingerprint(dir)).toBe(referenceFingerprint(dir));
    expectServable(dir);

    // Idempotent: the second run keeps what the first made.
    const again = await importIdentity(dir, dir, { dryRun: false });
    expect(checksums(dir)).toEqual(after);
    expect(again.at(-1)).toBe(`${join(dir, "server-ed25519.crt")}: Ed25519 online certificate signed by ${join(dir, "ca.crt")}, kept as it is`);
  });

  test("Ed448 identity into another directory: ca.crt and fingerprint copied byte for byte, ours as server.crt/server.key there; the source untouched", async () => {
    const from = referenceDir("ED448");
    const to = join(tempDir(), "ours");
    const before = checksums(from);
    await importIdentity(from, to, { dryRun: true });
    expect(existsSync(to)).toBe(false);
    await importIdentity(from, to, { dryRun: false });
    expect(checksums(from)).toEqual(before);
    for (const f of ["ca.crt", "fingerprint"]) expect(readFileSync(join(to, f))).toEqual(readFileSync(join(from, f)));
    expect(existsSync(join(to, "ca.key"))).toBe(false); // the CA key is not spread around
    expect(onlineCredentialFiles(to).crt).toBe(join(to, "server.crt"));
    expectServable(to);
    const first = checksums(to);
    const again = await importIdentity(from, to, { dryRun: false });
    expect(checksums(to)).toEqual(first);
    expect(again).toContain(`${join(to, "ca.crt")}: already identical to ${join(from, "ca.crt")}`);
  });

  test("Ed25519 identity: the online certificate is used as it is (in place) or copied byte for byte", async () => {
    const from = referenceDir("ED25519");
    const before = checksums(from);
    const inPlace = await importIdentity(from, from, { dryRun: false });
    expect(inPlace.at(-1)).toBe(`${join(from, "server.crt")}: Ed25519 online certificate signed by ${join(from, "ca.crt")}, served as it is`);
    expect(checksums(from)).toEqual(before);
    expectServable(from);
    const to = join(tempDir(), "ours");
    await importIdentity(from, to, { dryRun: false });
    for (const f of ["ca.crt", "fingerprint", "server.crt", "server.key"]) expect(readFileSync(join(to, f))).toEqual(readFileSync(join(from, f)));
    expectServable(to);
  });

  test("CA key offline: an error line with the one command to run where ca.key lives; following it makes the identity servable", async () => {
    const ref = referenceDir("ED448");
    const vault = join(tempDir(), "vault");
    mkdirSync(vault);
    copyFileSync(join(ref, "ca.key"), join(vault, "ca.key"));
    rmSync(join(ref, "ca.key"));
    const before = checksums(ref);
    const lines = await importIdentity(ref, ref, { dryRun: false });
    expect(checksums(ref)).toEqual(before);
    const err = lines.find((l) => l.startsWith(IDENTITY_ERROR))!;
    expect(err).toContain(`${join(ref, "server.crt")} is Ed448, which BoringSSL cannot serve`);
    expect(err).toContain("smp-server cert --ca-key /path/to/ca.key --config-dir .");

    // Where the CA key lives: copies of ca.crt and server.crt, then the printed command.
    const work = join(tempDir(), "work");
    mkdirSync(work);
    for (const f of ["ca.crt", "server.crt"]) copyFileSync(join(ref, f), join(work, f));
    const r = runCli(["cert", "--ca-key", join(vault, "ca.key"), "--config-dir", work]);
    expect(r.code).toBe(0);
    expect(r.all).toContain(`Generated new server credentials: ${join(work, "server-ed25519.crt")}, ${join(work, "server-ed25519.key")}`);
    expect(readFileSync(join(work, "server.crt"))).toEqual(readFileSync(join(ref, "server.crt")));
    for (const f of ["server-ed25519.crt", "server-ed25519.key"]) copyFileSync(join(work, f), join(ref, f));
    expectServable(ref);
    const again = await importIdentity(ref, ref, { dryRun: false });
    expect(again.some((l) => l.startsWith(IDENTITY_ERROR))).toBe(false);
  });

  test("`smp-server cert` in a reference directory with its Ed448 CA key: ours beside the reference's pair, which stays byte for byte", () => {
    const dir = referenceDir("ED448");
    const before = checksums(dir);
    const r = runCli(["cert", "--config-dir", dir, "--data-dir", join(dir, "..", "var")]);
    expect(r.code).toBe(0);
    expect(r.all).toContain(`Generated new server credentials: ${join(dir, "server-ed25519.crt")}, ${join(dir, "server-ed25519.key")}`);
    const after = checksums(dir);
    for (const [f, sum] of Object.entries(before)) expect(after[f]).toBe(sum);
    expect(parseCertificate(der(join(dir, "server-ed25519.crt"))).subjectCommonName).toBe("smp.example.com");
    expectServable(dir);
  });

  test("refusals: a fingerprint that does not match ca.crt (both files and values named), another identity in the target", async () => {
    const ref = referenceDir("ED25519");
    const real = fileFingerprint(ref);
    writeFileSync(join(ref, "fingerprint"), "AAAA\n");
    const e1 = await importIdentity(ref, ref, { dryRun: false }).catch((e) => e);
    expect(e1).toBeInstanceOf(CliError);
    expect(e1.message).toContain(`${join(ref, "fingerprint")} holds "AAAA", but the fingerprint of ${join(ref, "ca.crt")}`);
    expect(e1.message).toContain(real);
    writeFileSync(join(ref, "fingerprint"), real + "\n");

    const other = referenceDir("ED25519");
    const before = checksums(other);
    const e2 = await importIdentity(ref, other, { dryRun: false }).catch((e) => e);
    expect(e2).toBeInstanceOf(CliError);
    expect(e2.message).toContain(`${join(other, "ca.crt")} already exists and differs from ${join(ref, "ca.crt")}`);
    expect(checksums(other)).toEqual(before);
  });

  test("a real server on the imported Ed448 identity: SMP handshake with a client pinning the original fingerprint", async () => {
    const dir = referenceDir("ED448");
    const original = fileFingerprint(dir);
    await importIdentity(dir, dir, { dryRun: false });
    const data = tempDir();
    const server = await startServer(testOptions({ credentials: loadCredentials(dir) }, data));
    try {
      const client = await SMPClient.connect({ server: `smp://${original}@127.0.0.1:${server.ports[0]}` });
      try {
        await client.ping();
        const q = await client.createQueue();
        expect(q.rcvId.length).toBe(24);
      } finally {
        client.close();
      }
      // A client that knows another fingerprint is refused by its own chain check.
      const wrong = `smp://${"A".repeat(43)}=@127.0.0.1:${server.ports[0]}`;
      const err = await SMPClient.connect({ server: wrong }).catch((e) => e);
      expect(String(err)).toContain("certificate rejected: UnknownCA");
    } finally {
      await server.close();
    }
  });
});
