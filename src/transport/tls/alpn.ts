/**
 * ALPN (Server/Main.hs:serverConfig `alpnSupportedSMPHandshakes <> httpALPN`;
 * Transport/Server.hs:supportedTLSServerParams `onALPNClientSuggest`).
 */

/** Transport.hs:alpnSupportedSMPHandshakes — what SMP clients offer. */
export const SMP_ALPN: readonly string[] = ["smp/1"];

/** The SMP server's list, in its order of preference. */
export const SERVER_ALPN: readonly string[] = ["smp/1", "h2", "http/1.1"];

/**
 * The first entry of the SERVER's list that the client offered — the server's order wins, not
 * the client's. undefined = no match: the handshake must then abort with no_application_protocol
 * (the reference's hook returns "" and the tls library sends that alert).
 */
export function selectAlpn(serverList: readonly string[], clientList: readonly string[]): string | undefined {
  for (const p of serverList) if (clientList.includes(p)) return p;
  return undefined;
}
