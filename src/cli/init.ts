/**
 * `init` (Server/Main.hs:initializeServer/initialize): directories, certificates, smp-server.toml,
 * then the fingerprint and address. Always non-interactive (the reference's prompts are replaced
 * by options); `start` calls it with defaults on a fresh machine.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { base64url } from "../encoding/base64.ts";
import { DB_FILE } from "../server/index.ts";
import { createDatabase } from "../store/sqlite/startup-check.ts";
import { createCertificates, createWebCertificate } from "./certs.ts";
import { basicAuthProblem, parseSocksProxy } from "./config.ts";
import { renderConfig, type InitValues, type ServerInformation } from "./config-template.ts";
import { serverAddress } from "./address.ts";
import { CliError, type Out } from "./errors.ts";
import { refuseToReinitialize } from "./identity-guard.ts";
import { configFile, configPath, WEB_FILES, type Paths } from "./paths.ts";
import { terminalQr } from "./qr.ts";
import { printServiceInfo, printSourceCode, NO_HOST } from "./service-info.ts";

export type PasswordChoice = { kind: "random" } | { kind: "none" } | { kind: "set"; value: string };

export interface InitOptions extends ServerInformation {
  ip: string;
  fqdn?: string;
  /** Default: 5223 and 443 as root, only 5223 otherwise (binding 443 needs privileges). */
  ports?: number[];
  password: PasswordChoice;
  enableStoreLog: boolean;
  logStats: boolean;
  controlPort?: number;
  webPath?: string;
  /** Do not serve HTTPS (the reference's --disable-web: https/cert/key are left commented). */
  disableWeb?: boolean;
  /** Create web.crt/web.key (self-signed, ECDSA) so the HTTPS pages work at once. */
  webCert?: "self-signed";
}

export const DEFAULT_INIT: InitOptions = {
  ip: "127.0.0.1",
  password: { kind: "random" },
  enableStoreLog: true,
  logStats: false,
};

export function defaultPorts(isRoot: boolean): number[] {
  return isRoot ? [5223, 443] : [5223];
}

const randomBase64url = (n: number): string => base64url(new Uint8Array(randomBytes(n)));

/** Server/Main.hs:checkInitOptions plus the value checks optparse would do. */
function checkInitOptions(o: InitOptions): void {
  const info = [o.serverCountry, o.operator, o.operatorCountry, o.website, o.hosting, o.hostingCountry, o.hostingType];
  if (o.sourceCode === undefined && info.some((v) => v !== undefined)) throw new CliError("Error: passing any server information requires passing --source-code");
  if (o.operator === undefined && o.operatorCountry !== undefined) throw new CliError("Error: passing --operator-country requires passing --operator");
  if (o.hosting === undefined && o.hostingCountry !== undefined) throw new CliError("Error: passing --hosting-country requires passing --hosting");
  for (const [flag, host] of [["--ip", o.ip], ["--fqdn", o.fqdn]] as const)
    if (host !== undefined && !/^[^\s,/@#;:[\]]+$|^[0-9A-Fa-f:.]+$/.test(host)) throw new CliError(`Error: ${flag}: invalid host ${JSON.stringify(host)}`);
  if (o.password.kind === "set") {
    const problem = basicAuthProblem(o.password.value);
    if (problem !== undefined) throw new CliError(`Error: --password: ${problem}`);
  }
  if (o.disableWeb === true && o.webCert !== undefined) throw new CliError("Error: --web-cert cannot be used with --disable-web");
  if (o.socksProxy !== undefined) {
    const p = parseSocksProxy(o.socksProxy);
    if (typeof p === "string") throw new CliError(`Error: --socks-proxy: ${p}`);
  }
}

function makeDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export interface InitResult {
  fingerprint: Uint8Array;
  address: string;
}

/**
 * `fromStart`: the zero-config initialization of `start`, which prints the server's summary
 * itself once it is listening (so the address block is not shown twice).
 */
export function initialize(paths: Paths, o: InitOptions, isRoot: boolean, out: Out, fromStart = false): InitResult {
  const file = configFile(paths);
  refuseToReinitialize(paths, "init");
  checkInitOptions(o);
  makeDir(paths.configDir);
  makeDir(paths.dataDir);

  if (o.webCert !== undefined)
    for (const f of Object.values(WEB_FILES)) {
      const path = join(paths.configDir, f);
      // An operator's own (CA-issued) web certificate is never replaced.
      if (existsSync(path)) throw new CliError(`Error: ${path} already exists; remove it or omit --web-cert`);
    }
  const fingerprint = createCertificates(paths.configDir, o.fqdn ?? o.ip);
  const password = o.password.kind === "random" ? randomBase64url(32) : o.password.kind === "set" ? o.password.value : undefined;
  // Server/Main.hs:initialize: control port passwords are base64url of 18 random bytes.
  const controlPortPasswords = o.controlPort === undefined ? undefined : { admin: randomBase64url(18), user: randomBase64url(18) };
  const ports = o.ports ?? defaultPorts(isRoot);
  const host = o.fqdn ?? (o.ip === "127.0.0.1" ? undefined : o.ip);
  if (o.webCert !== undefined) createWebCertificate(paths.configDir, o.fqdn === undefined ? [o.ip] : [o.fqdn, o.ip]);
  const values: InitValues = {
    configDir: paths.configDir,
    dataDir: paths.dataDir,
    enableStoreLog: o.enableStoreLog,
    logStats: o.logStats,
    ...(host !== undefined && { host }),
    ports,
    ...(password !== undefined && { password }),
    ...(o.controlPort !== undefined && { controlPort: o.controlPort, controlPortPasswords }),
    socksProxy: o.socksProxy,
    ownDomains: o.ownDomains,
    sourceCode: o.sourceCode,
    serverCountry: o.serverCountry,
    operator: o.operator,
    operatorCountry: o.operatorCountry,
    website: o.website,
    hosting: o.hosting,
    hostingCountry: o.hostingCountry,
    hostingType: o.hostingType,
    webStaticPath: o.webPath,
    // Server/Main/Init.hs writes https = 443 unless --disable-web; without 443 among our ports
    // (not root) the first SMP port is shared instead, so the pages need no privileged port.
    ...(o.disableWeb !== true && { webHttpsPort: ports.includes(443) ? 443 : ports[0] }),
  };
  // The file holds the queue-creation and control-port passwords.
  writeFileSync(file, renderConfig(values), { mode: 0o600 });
  // The store is part of an initialized server: from now on `start` refuses to run without it
  // rather than silently serving from an empty one.
  if (o.enableStoreLog) createDatabase(join(paths.dataDir, DB_FILE));

  const address = serverAddress(fingerprint, password, host ?? NO_HOST);
  out(`Server initialized, please provide additional server information in ${file}.`);
  if (!fromStart) out("Run `smp-server start` to start server.");
  if (o.ports === undefined && !isRoot)
    out("Note: listening on port 5223 only, because binding port 443 needs root (or CAP_NET_BIND_SERVICE); add 443 to [TRANSPORT] port if this server can bind it.");
  if (o.webCert !== undefined)
    out(`Self-signed web certificate: ${join(paths.configDir, WEB_FILES.cert)} (browsers warn about it; replace it with a CA-issued one, e.g. from Let's Encrypt).`);
  warnCAPrivateKeyFile(paths, out);
  if (!fromStart) {
    printServiceInfo(fingerprint, address, out, terminalQr);
    printSourceCode(o.sourceCode, out);
  }
  return { fingerprint, address };
}

/** Server/CLI.hs:warnCAPrivateKeyFile. */
export function warnCAPrivateKeyFile(paths: Paths, out: Out): void {
  out(
    "----------\nYou should store CA private key securely and delete it from the server.\n" +
      "If server TLS credential is compromised this key can be used to sign a new one, " +
      "keeping the same server identity and established connections.\nCA private key location:\n" +
      configPath(paths, "caKey") +
      "\n----------",
  );
}

