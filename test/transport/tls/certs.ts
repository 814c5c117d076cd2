/**
 * Test certificates made with the openssl CLI the way the reference's `smp-server init` makes them
 * (Server/CLI.hs:createServerX509_, digest §8.3): an Ed25519 self-signed CA with
 * basicConstraints critical CA:true, and a server certificate it signs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const OPENSSL = "/usr/bin/openssl";

function openssl(cwd: string, args: string[]): void {
  const r = Bun.spawnSync([OPENSSL, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr.toString()}`);
}

const CA_CONF = `prompt = no
distinguished_name = dn
[dn]
CN = %CN%
O = SimpleX
[v3]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical,CA:true
`;

const LEAF_CONF = `prompt = no
distinguished_name = dn
[dn]
CN = %CN%
[v3]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, nonRepudiation, keyAgreement
extendedKeyUsage = serverAuth
`;

export interface Issued {
  name: string;
  certPath: string;
  keyPath: string;
  pem: string;
  keyPem: string;
  der: Uint8Array;
}

export class CertDir {
  readonly dir = mkdtempSync(join(tmpdir(), "smp-tls-test-"));

  path(name: string): string {
    return join(this.dir, name);
  }

  private load(name: string): Issued {
    const pem = readFileSync(this.path(`${name}.crt`), "utf8");
    const der = new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s+/g, ""), "base64"));
    return { name, certPath: this.path(`${name}.crt`), keyPath: this.path(`${name}.key`), pem, keyPem: readFileSync(this.path(`${name}.key`), "utf8"), der };
  }

  /** Self-signed CA (openssl req -x509 with the reference's openssl_ca.conf). */
  ca(name: string, cn = "SMP server CA"): Issued {
    writeFileSync(this.path(`${name}.conf`), CA_CONF.replace("%CN%", cn));
    openssl(this.dir, ["genpkey", "-algorithm", "ED25519", "-out", `${name}.key`]);
    openssl(this.dir, ["req", "-new", "-x509", "-days", "999999", "-config", `${name}.conf`, "-extensions", "v3", "-key", `${name}.key`, "-out", `${name}.crt`]);
    return this.load(name);
  }

  /**
   * Certificate signed by `issuer`; `asCa` makes an intermediate CA, else a server-style leaf;
   * `v1` leaves out the extensions, which makes openssl issue an X.509 v1 certificate.
   */
  issue(name: string, issuer: Issued, opts: { cn?: string; asCa?: boolean; v1?: boolean } = {}): Issued {
    const cn = opts.cn ?? name;
    writeFileSync(this.path(`${name}.conf`), (opts.asCa ? CA_CONF : LEAF_CONF).replace("%CN%", cn));
    openssl(this.dir, ["genpkey", "-algorithm", "ED25519", "-out", `${name}.key`]);
    openssl(this.dir, ["req", "-new", "-config", `${name}.conf`, "-key", `${name}.key`, "-out", `${name}.csr`]);
    const extensions = opts.v1 ? [] : ["-extfile", `${name}.conf`, "-extensions", "v3"];
    openssl(this.dir, [
      "x509", "-req", "-days", "999999", ...extensions, "-in", `${name}.csr`,
      "-CA", issuer.certPath, "-CAkey", issuer.keyPath, "-CAcreateserial", "-out", `${name}.crt`,
    ]);
    return this.load(name);
  }

  /** Self-signed leaf (no CA extensions), e.g. a lone service certificate. */
  selfSigned(name: string): Issued {
    openssl(this.dir, ["genpkey", "-algorithm", "ED25519", "-out", `${name}.key`]);
    openssl(this.dir, ["req", "-new", "-x509", "-days", "3650", "-subj", `/CN=${name}`, "-key", `${name}.key`, "-out", `${name}.crt`]);
    return this.load(name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The server's files as `smp-server init` leaves them: ca.crt, server.crt, server.key. */
export function serverCredentials(certs: CertDir): { ca: Issued; server: Issued; credentials: { certPem: string; chainPem: string; keyPem: string } } {
  const ca = certs.ca("ca");
  const server = certs.issue("server", ca, { cn: "localhost" });
  return { ca, server, credentials: { certPem: server.pem, chainPem: ca.pem, keyPem: server.keyPem } };
}
