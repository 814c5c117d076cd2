export type { TlsConnection } from "./connection.ts";
export { listenTLS, type TlsServer, type TlsServerConfig } from "./server-tls.ts";
export { connectTLS } from "./client-tls.ts";
