export { SERVER_ALPN, SMP_ALPN, selectAlpn } from "./alpn.ts";
export {
  chainIdCaCerts,
  validateChain,
  validateClientChain,
  validateServerChain,
  x509Validate,
  type ChainFailure,
  type ChainResult,
  type ChainShape,
} from "./chain-validation.ts";
export type { TlsConnection, TlsVersion } from "./connection.ts";
export { TLS_SETUP_TIMEOUT_MS, type PemCredentials } from "./params.ts";
export { listenTLS, type TlsServer, type TlsServerConfig } from "./server-tls.ts";
export { connectTLS, TlsConnectError, type TlsClientConfig } from "./client-tls.ts";
