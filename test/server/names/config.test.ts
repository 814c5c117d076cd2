// [NAMES] in smp-server.toml → ServerOptions.names (Server/Main.hs:readNamesConfig), through the CLI's reader.
import { describe, expect, test } from "bun:test";
import { ConfigError, parseConfig } from "../../../src/cli/config.ts";
import { toServerOptions } from "../../../src/cli/server-options.ts";

const FILE = "/etc/opt/simplex/smp-server.toml";
const toml = (names: string) => `[TRANSPORT]\nport = [5223]\n[NAMES]\n${names}`;
const credentials = { chainDer: [], certPem: "", caPem: "", keyPem: "", serverKeyPkcs8: new Uint8Array(), fingerprint: new Uint8Array(32) };
const options = (names: string) => toServerOptions(parseConfig(toml(names), FILE), credentials, { dataDir: "/d", logLevel: "warn" });

function reason(names: string): string {
  try {
    parseConfig(toml(names), FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return `${(e as ConfigError).where}: ${(e as ConfigError).reason}`;
  }
  return "";
}

describe("[NAMES] → ServerOptions.names", () => {
  test("off by default: the names role is not enabled alongside the (always on) proxy role", () => {
    const o = toServerOptions(parseConfig("[TRANSPORT]\nport = [5223]\n", FILE), credentials, { dataDir: "/d", logLevel: "warn" });
    expect(o.names).toBeUndefined();
    expect(o.proxy.enabled).toBe(true);
    expect(options('enable = false\nresolver_endpoint = "https://names.example.com"\n').names).toBeUndefined();
  });
  test("enabled: validated endpoint (trailing / stripped), auth and the reference's defaults", () => {
    expect(options('enable = true\nresolver_endpoint = "https://names.example.com:443/snrc/"\nresolver_auth = "Bearer tok"\n').names).toEqual({
      resolverEndpoint: "https://names.example.com:443/snrc",
      resolverAuth: { scheme: "bearer", token: "tok" },
      resolverTimeoutMs: 3000,
      resolverMaxResponseBytes: 16000,
      resolverConcurrency: 1000,
    });
    expect(options('enable = "on"\nresolver_endpoint = "http://127.0.0.1:8000"\nresolver_timeout_ms = 100\nresolver_max_response_bytes = 1024\nresolver_concurrency = 5\n').names).toEqual({
      resolverEndpoint: "http://127.0.0.1:8000",
      resolverTimeoutMs: 100,
      resolverMaxResponseBytes: 1024,
      resolverConcurrency: 5,
    });
  });
  test("the reference's bounds and required keys", () => {
    expect(reason("enable = true\n")).toMatch(/\[NAMES\] resolver_endpoint: required/);
    expect(reason('enable = "yes"\n')).toMatch(/\[NAMES\] enable/);
    for (const [k, v] of [["resolver_timeout_ms", 99], ["resolver_timeout_ms", 60001], ["resolver_max_response_bytes", 1023], ["resolver_max_response_bytes", 16001]] as const)
      expect(reason(`${k} = ${v}\n`)).toMatch(new RegExp(`\\[NAMES\\] ${k}: must be between`));
    expect(reason('resolver_timeout_ms = "3000"\n')).toMatch(/expected an integer/);
  });
  test("endpoint refusals name the key and never echo the auth value", () => {
    const r = reason('enable = true\nresolver_endpoint = "http://names.example.com"\nresolver_auth = "bearer s3cr3t"\n');
    expect(r).toMatch(/\[NAMES\] resolver_endpoint: http with resolver_auth on a non-loopback host/);
    expect(r).not.toContain("s3cr3t");
    expect(reason('resolver_auth = "basic s3cr3t"\n')).toBe("[NAMES] resolver_auth: basic auth expects user:password");
    expect(reason('enable = true\nresolver_endpoint = "http://169.254.169.254"\n')).toMatch(/\[NAMES\] resolver_endpoint: link-local/);
    expect(reason('enable = true\nresolver_endpoint = "https://names.example.com/?a=1"\n')).toMatch(/query/);
  });
});
