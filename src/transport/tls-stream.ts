/** A TLS connection seen as the SMP layer's TransportStream. */
import type { TlsConnection } from "./tls/connection.ts";
import type { StreamHandlers, TransportStream } from "./stream.ts";

export function tlsStream(conn: TlsConnection): TransportStream {
  return {
    sessionId: conn.sessionId,
    alpn: conn.alpn === false ? null : conn.alpn,
    peerCertificateChain: conn.peerCertificateChain,
    tracksWrites: true,
    setHandlers(h: StreamHandlers): void {
      conn.onData = h.onData;
      conn.onDrain = h.onDrain;
      conn.onClose = h.onClose;
      if (h.onWritten !== undefined) conn.onWritten = h.onWritten;
      // Closed before anyone listened: onClose has already fired into the void.
      if (conn.closed) queueMicrotask(h.onClose);
    },
    write: (data) => conn.write(data),
    pause: () => conn.pause(),
    resume: () => conn.resume(),
    close: () => conn.close(),
  };
}
