/**
 * The byte stream an SMP connection runs over: an established TLS connection, seen by the
 * SMP layer only through this interface so that TLS details stay in `tls/`.
 */
export interface StreamHandlers {
  /** Received bytes; the view is only valid during the call. */
  onData(chunk: Uint8Array): void;
  /** The peer can take more after `write` returned false. */
  onDrain(): void;
  /** The connection is gone (either side, or an error). Called once. */
  onClose(): void;
  /**
   * Only on streams with `tracksWrites`: called once per `write`, in write order — true when the
   * stream no longer references that write's bytes (the buffer may be reused), false when the
   * write was refused or failed (never reuse that buffer).
   */
  onWritten?(ok: boolean): void;
}

export interface TransportStream {
  /** tls-unique: the client's TLS Finished verify_data (Transport.hs:withTlsUnique). */
  readonly sessionId: Uint8Array;
  /** Negotiated ALPN protocol, or null when the client offered none. */
  readonly alpn: string | null;
  /** The peer's certificate chain, DER, leaf first (empty when it sent none). */
  readonly peerCertificateChain: readonly Uint8Array[];
  /** The stream reports every write's end through `onWritten`. */
  readonly tracksWrites?: boolean;
  setHandlers(h: StreamHandlers): void;
  /**
   * Queues bytes for sending; false means the send buffer is above its mark: wait for onDrain.
   * The stream may keep a reference to `data` until it is sent: never reuse a written buffer,
   * unless `tracksWrites` and onWritten(true) said it was consumed.
   */
  write(data: Uint8Array): boolean;
  /** Stop/restart delivering onData (backpressure towards the peer). */
  pause(): void;
  resume(): void;
  close(): void;
}
