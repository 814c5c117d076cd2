/**
 * `[WEB]` and the facts the site shows, from the configuration (Server/Main.hs:runWebServer;
 * SMPWeb.hs:serverInformation for what the information page lists).
 */
import { base64url } from "../encoding/base64.ts";
import { isOnionHost } from "../protocol/server-address.ts";
import type { WebOptions } from "../web/server.ts";
import { addressPort, serverAddress } from "./address.ts";
import type { SmpConfig } from "./config.ts";
import { PRODUCT_VERSION } from "./version.ts";

export function webOptions(cfg: SmpConfig, fingerprint: Uint8Array): WebOptions {
  const t = cfg.transport;
  const hosts = t.host?.split(",").map((h) => h.trim()) ?? [];
  const onionHost = hosts.find(isOnionHost);
  return {
    ...(cfg.web.staticPath !== undefined && { staticPath: cfg.web.staticPath }),
    ...(cfg.web.http !== undefined && { http: cfg.web.http }),
    ...(cfg.web.https !== undefined && { https: cfg.web.https }),
    bindHost: t.bindHost,
    smpPorts: t.ports,
    site: {
      ...(cfg.information !== undefined && { information: cfg.information }),
      config: {
        persistent: cfg.storeLog.enable,
        messageExpirationSeconds: cfg.storeLog.expireMessagesDays * 86400,
        statsEnabled: cfg.storeLog.logStats,
        newQueuesAllowed: cfg.auth.newQueues,
        basicAuthEnabled: cfg.auth.createPassword !== undefined,
      },
      version: `v${PRODUCT_VERSION}`,
      // Never with the queue-creation password: the page is public.
      ...(t.host !== undefined && { serverAddress: serverAddress(fingerprint, undefined, t.host, addressPort(t.ports)) }),
      fingerprint: base64url(fingerprint),
      ...(onionHost !== undefined && { onionHost }),
    },
  };
}
