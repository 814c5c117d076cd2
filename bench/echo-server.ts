/**
 * The ceiling for the SMP benchmark: a TLS echo server on the server's own TLS stack
 * (src/transport/tls listenTLS: node:tls over Bun TCP, with the handshake scanner) that sends back
 * every byte it receives. Run as its own process by bench/run.ts; prints {"port": N}.
 */
import { generateCa, generateServerCert } from "../src/crypto/x509/certificate.ts";
import { listenTLS } from "../src/transport/tls/index.ts";
import { commands, emit } from "./lib/child.ts";

const ca = generateCa();
const cert = generateServerCert(ca, "localhost");
const server = listenTLS({
  hostname: "127.0.0.1",
  port: 0,
  credentials: { certPem: cert.pem, chainPem: ca.pem, keyPem: cert.keyPem },
  onConnection(conn) {
    conn.onData = (chunk) => {
      if (!conn.write(chunk)) conn.pause();
    };
    conn.onDrain = () => conn.resume();
  },
});
emit({ port: server.port });
for await (const _ of commands()) {
  // runs until stdin closes
}
server.stop(true);
process.exit(0);
