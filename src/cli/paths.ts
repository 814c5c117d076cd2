/**
 * Where the server keeps its configuration (certificates, smp-server.toml) and its data (database,
 * logs). Reference: apps/smp-server/Main.hs uses /etc/opt/simplex and /var/opt/simplex, overridable
 * by SMP_SERVER_CFG_PATH / SMP_SERVER_LOG_PATH (an empty value means the default,
 * Server/CLI.hs:getEnvPath). Those system paths need root, so an unprivileged user gets XDG
 * per-user directories instead — this is what makes `smp-server start` work with zero setup.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export const CONFIG_FILE = "smp-server.toml";

export const FILES = {
  caKey: "ca.key",
  caCrt: "ca.crt",
  serverKey: "server.key",
  serverCrt: "server.crt",
  fingerprint: "fingerprint",
  /**
   * Our Ed25519 online credentials when server.crt/server.key are a reference installation's Ed448
   * pair, which BoringSSL cannot serve and which we never overwrite (certs.ts:onlineCredentialFiles).
   */
  onlineKey: "server-ed25519.key",
  onlineCrt: "server-ed25519.crt",
} as const;

export interface Paths {
  configDir: string;
  dataDir: string;
}

export interface PathEnv {
  env: Record<string, string | undefined>;
  isRoot: boolean;
  home: string;
}

export function currentPathEnv(): PathEnv {
  return {
    env: process.env,
    isRoot: process.getuid?.() === 0,
    home: process.env.HOME || homedir(),
  };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === "" ? undefined : v);

/** Flags win over environment variables, which win over the defaults. */
export function resolvePaths(flags: { configDir?: string; dataDir?: string }, pe: PathEnv = currentPathEnv()): Paths {
  const { env, isRoot, home } = pe;
  const defaultConfig = isRoot ? "/etc/opt/simplex" : join(nonEmpty(env.XDG_CONFIG_HOME) ?? join(home, ".config"), "simplex");
  const defaultData = isRoot ? "/var/opt/simplex" : join(nonEmpty(env.XDG_DATA_HOME) ?? join(home, ".local", "share"), "simplex");
  return {
    configDir: nonEmpty(flags.configDir) ?? nonEmpty(env.SMP_SERVER_CFG_PATH) ?? defaultConfig,
    dataDir: nonEmpty(flags.dataDir) ?? nonEmpty(env.SMP_SERVER_LOG_PATH) ?? defaultData,
  };
}

export const configFile = (p: Paths): string => join(p.configDir, CONFIG_FILE);
export const configPath = (p: Paths, f: keyof typeof FILES): string => join(p.configDir, FILES[f]);
