/**
 * The web side of the server (Server/Main.hs:runWebServer, Web.hs:serveStaticFiles,
 * attachStaticFiles): the site is generated into `[WEB] static_path`, then served on `[WEB] http`,
 * on `[WEB] https` with its own certificate, or — when `https` is also an SMP port — to the
 * clients on that port that send SNI (the SMP listener hands them over, see
 * transport/tls/sni-split.ts).
 *
 * Nothing here can stop SMP: every failure (site not writable, certificate missing or unreadable,
 * port taken) becomes one warning naming what failed, and that part of the site is not served.
 */
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContext } from "node:tls";
import type { Socket, TCPSocketListener } from "bun";
import type { HttpConnections } from "../transport/http-listener.ts";
import type { HttpLimits } from "../transport/http-responder.ts";
import type { SocketSink } from "../transport/tls/bun-handlers.ts";
import type { SniHandoff } from "../transport/tls/sni-split.ts";
import { webConnections } from "./http.ts";
import type { SiteInput } from "./info.ts";
import { buildSite, writeSite } from "./site.ts";

export interface WebOptions {
  staticPath?: string;
  http?: number;
  https?: { port: number; cert: string; key: string };
  bindHost: string;
  /** The SMP listener ports as configured: `https` equal to one of them shares it. */
  smpPorts: readonly number[];
  site: SiteInput;
  maxConnections?: number;
  maxConnectionsPerAddress?: number;
  httpLimits?: HttpLimits;
  /**
   * Several nodes of the server on this machine (issue 18): every node serves the site on the
   * same ports (SO_REUSEPORT), and only the first writes it (`generate` false for the others).
   */
  nodes?: { reusePort: boolean; generate: boolean };
}

export interface RunningWeb {
  /** For the SMP listener on the shared port, when the web certificate loaded. */
  shared?: { port: number; handoff: SniHandoff };
  /** Bound ports of the web's own listeners (with port 0 in tests: the real port). */
  httpPort?: number;
  httpsPort?: number;
  /**
   * File descriptors the web's own listeners can hold (their connection bound and the listening
   * sockets), which SMP's connection bound leaves free; 0 without a dedicated port (connections
   * handed over from a shared SMP port are SMP's).
   */
  readonly descriptors: number;
  /** Start-up lines: what is served where. */
  notes: string[];
  /** What is not served and why. */
  warnings: string[];
  stop(): void;
}

/** The web certificate and key as a TLS context; an error message naming the files otherwise. */
export function loadWebCredentials(cert: string, key: string): { context: SecureContext; warning?: string } | string {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = readFileSync(cert, "utf8");
    keyPem = readFileSync(key, "utf8");
  } catch (e) {
    return `cannot read the web certificate ${cert} / key ${key}: ${(e as Error).message}`;
  }
  try {
    const context = createSecureContext({ cert: certPem, key: keyPem, minVersion: "TLSv1.2" });
    const type = createPrivateKey(keyPem).asymmetricKeyType;
    const warning =
      type === "ed25519" || type === "ed448"
        ? `the web key ${key} is ${type}: browsers do not accept such certificates; use an RSA or ECDSA certificate (e.g. \`smp-server init --web-cert self-signed\`, or Let's Encrypt)`
        : undefined;
    return { context, warning };
  } catch (e) {
    return `cannot use the web certificate ${cert} with key ${key}: ${(e as Error).message}`;
  }
}

export function startWeb(o: WebOptions): RunningWeb {
  const notes: string[] = [];
  const warnings: string[] = [];
  const listeners: TCPSocketListener<SocketSink>[] = [];
  let maxWeb = 0;
  const running: RunningWeb = {
    get descriptors() {
      return listeners.length === 0 ? 0 : maxWeb + listeners.length;
    },
    notes,
    warnings,
    stop: () => {
      for (const l of listeners) l.stop(true);
      listeners.length = 0;
    },
  };
  if (o.staticPath === undefined) {
    if (o.http !== undefined || o.https !== undefined) warnings.push("[WEB] static_path is not set: the web site is not generated or served");
    return running;
  }
  try {
    if (o.nodes?.generate !== false) {
      writeSite(o.staticPath, buildSite(o.site));
      notes.push(`Generated static site contents at ${o.staticPath}`);
    }
  } catch (e) {
    warnings.push(`cannot write the web site to [WEB] static_path ${o.staticPath}: ${(e as Error).message}; the web site is not served`);
    return running;
  }
  const conns = webConnections(o.staticPath, o.maxConnections, o.httpLimits, o.maxConnectionsPerAddress);
  maxWeb = conns.admission.limits.maxConnections;
  const listen = (port: number, tls: SecureContext | null, label: string): number | undefined => {
    try {
      const l = conns.listen(o.bindHost, port, tls, o.nodes?.reusePort === true);
      listeners.push(l);
      notes.push(`Serving static site on port ${l.port}${tls === null ? "" : " (TLS)"}`);
      return l.port;
    } catch (e) {
      warnings.push(`${label}: cannot listen on port ${port}: ${(e as Error).message}; the web site is not served there`);
      return undefined;
    }
  };

  if (o.http !== undefined) {
    if (o.http !== 0 && o.smpPorts.includes(o.http)) warnings.push(`[WEB] http = ${o.http} is an SMP port: plain HTTP is not served there`);
    else running.httpPort = listen(o.http, null, "[WEB] http");
  }
  if (o.https !== undefined) {
    const { port, cert, key } = o.https;
    const creds = loadWebCredentials(cert, key);
    if (typeof creds === "string") {
      warnings.push(`${creds}; the web site is not served over HTTPS on port ${port}${o.smpPorts.includes(port) ? " (SMP on that port is not affected)" : ""}`);
    } else {
      if (creds.warning !== undefined) warnings.push(creds.warning);
      if (o.smpPorts.includes(port)) {
        running.shared = { port, handoff: sniHandoff(conns, creds.context) };
        notes.push(`Serving static site on port ${port} (TLS, shared with SMP: clients that send SNI get the web site)`);
      } else running.httpsPort = listen(port, creds.context, "[WEB] https");
    }
  }
  return running;
}

/** Takes a connection whose ClientHello carried SNI, with the bytes already read from it. */
function sniHandoff(conns: HttpConnections, tls: SecureContext): SniHandoff {
  return (socket: Socket<SocketSink>, hello: Uint8Array) => {
    if (!conns.adopt(socket, tls)) return;
    socket.data.attach(socket as Socket<unknown>);
    socket.data.socketData(hello);
  };
}
