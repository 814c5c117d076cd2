// Service client credentials as the reference tests make them (ServerTests.hs: genCredentials):
// a certificate chain identifying the service and a fresh session key per connection.
import { SMPClient } from "../../src/client/client.ts";
import type { ServiceCredentials } from "../../src/transport/client-handshake.ts";
import { decodePrivKey } from "../../src/crypto/keys.ts";
import { SignPrivateKey } from "../../src/crypto/sign.ts";
import { pemToDer } from "../../src/crypto/x509/certificate.ts";
import { generateServiceCert } from "../../src/crypto/x509/service-certificate.ts";

export interface ServiceCert {
  readonly chain: Uint8Array[];
  readonly key: SignPrivateKey;
}

export function signKeyOf(pem: string): SignPrivateKey {
  return new SignPrivateKey("ed25519", decodePrivKey(pemToDer(pem, "PRIVATE KEY")).raw);
}

/** ServerTests.hs: `genCredentials g Nothing (0, 2400) "localhost"` — one self-signed certificate. */
export function selfSignedServiceCert(): ServiceCert {
  const c = generateServiceCert("localhost");
  return { chain: [c.der], key: signKeyOf(c.keyPem) };
}

/** A fresh per-session Ed25519 service key for each connection, as the reference client makes. */
export function serviceCredentials(cert: ServiceCert, role: "M" | "N"): ServiceCredentials {
  return { role, certChain: cert.chain, certSignKey: cert.key, sessionKey: new SignPrivateKey("ed25519", crypto.getRandomValues(new Uint8Array(32))) };
}

/** runSMPServiceClient: a service session of this role, connected to `address`. */
export async function connectService(address: string, cert: ServiceCert, role: "M" | "N" = "M"): Promise<SMPClient & { key: SignPrivateKey }> {
  const creds = serviceCredentials(cert, role);
  const c = await SMPClient.connect({ server: address, service: creds, timeoutMs: 5000, connectTimeoutMs: 5000 });
  return Object.assign(c, { key: creds.sessionKey });
}
