/**
 * Where the server keeps its configuration (certificates, smp-server.toml) and its data (database,
 * logs). Reference: apps/smp-server/Main.hs uses /etc/opt/simplex and /var/opt/simplex, overridable
 * by SMP_SERVER_CFG_PATH / SMP_SERVER_LOG_PATH (an empty value means the default,
 * Server/CLI.hs:getEnvPath). Those system paths need root to create, so an unprivileged user gets
 * XDG per-user directories instead — this is what makes `smp-server start` work with zero setup —
 * unless a server is installed in them (the reference's unit runs as the unprivileged `smp`).
 */
import { existsSync } from "node:fs";
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

/** The web certificate files `init` writes and its [WEB] section names. */
export const WEB_FILES = { cert: "web.crt", key: "web.key" } as const;

export interface Paths {
  configDir: string;
  dataDir: string;
}

export interface PathEnv {
  env: Record<string, string | undefined>;
  isRoot: boolean;
  home: string;
  /**
   * The system configuration directory exists: a server is installed there. Then every user gets
   * the system directories, as under the reference's unit file (`User=smp`, a user without a home).
   */
  systemInstalled?: boolean;
}

export const SYSTEM_CONFIG_DIR = "/etc/opt/simplex";
export const SYSTEM_DATA_DIR = "/var/opt/simplex";

export function currentPathEnv(): PathEnv {
  return {
    env: process.env,
    isRoot: process.getuid?.() === 0,
    home: process.env.HOME || homedir(),
    systemInstalled: existsSync(SYSTEM_CONFIG_DIR),
  };
}

const nonEmpty = (v: string | undefined): string | undefined => (v === undefined || v === "" ? undefined : v);

/** Flags win over environment variables, which win over the defaults. */
export function resolvePaths(flags: { configDir?: string; dataDir?: string }, pe: PathEnv = currentPathEnv()): Paths {
  const { env, home } = pe;
  const system = pe.isRoot || pe.systemInstalled === true;
  const defaultConfig = system ? SYSTEM_CONFIG_DIR : join(nonEmpty(env.XDG_CONFIG_HOME) ?? join(home, ".config"), "simplex");
  const defaultData = system ? SYSTEM_DATA_DIR : join(nonEmpty(env.XDG_DATA_HOME) ?? join(home, ".local", "share"), "simplex");
  return {
    configDir: nonEmpty(flags.configDir) ?? nonEmpty(env.SMP_SERVER_CFG_PATH) ?? defaultConfig,
    dataDir: nonEmpty(flags.dataDir) ?? nonEmpty(env.SMP_SERVER_LOG_PATH) ?? defaultData,
  };
}

export const configFile = (p: Paths): string => join(p.configDir, CONFIG_FILE);
export const configPath = (p: Paths, f: keyof typeof FILES): string => join(p.configDir, FILES[f]);
