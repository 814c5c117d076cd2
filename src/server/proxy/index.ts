/** The proxy role: PRXY/PFWD as a client's proxy, RFWD as a destination. */
export { ProxyAgent, chooseRelayHost, type RelayConnector } from "./agent.ts";
export { proxyError } from "./errors.ts";
export { processPRXY, processPFWD, proxyAgent, relayKey } from "./proxy.ts";
export { processRFWD, openForwarded, sealForwardedResponse, forwardingAllowed } from "./relay.ts";
export { connectTLSViaSocks, socksConnectRequest } from "./socks.ts";
export { ProxyStats } from "./stats.ts";
