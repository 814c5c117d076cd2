export type { TlsConnection } from "./connection.ts";
export { listenTLS, type SniHandoff, type TlsServer, type TlsServerConfig } from "./server-tls.ts";
export { connectTLS } from "./client-tls.ts";
