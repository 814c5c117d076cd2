/**
 * Watches one direction of a TLS byte stream during the handshake and picks out two handshake
 * messages the TLS stack will not give us: the peer's Certificate (as sent on the wire) and, in
 * TLS 1.3, the Finished of the side that sent this stream (the SMP session id).
 *
 * A byte-level state machine over a fixed record buffer: it never throws on bad input — a
 * malformed stream just ends the scan (`failed`), and the TLS stack rejects the connection itself.
 * It is only fed until the handshake completes, then dropped.
 *
 * What it sees, by version:
 * - TLS 1.2: handshake records in clear until ChangeCipherSpec (Certificate among them); the
 *   Finished is encrypted with keys we do not have — the caller reads it from the TLS stack.
 * - TLS 1.3: ClientHello/ServerHello in clear, an optional dummy ChangeCipherSpec, then records of
 *   type application_data protected with the handshake traffic secret (given via `setSecret`,
 *   possibly after the records arrived — those are held, bounded, until then).
 */
import { parseCertificateMessage } from "./certificate-message.ts";
import { RecordDecryptor } from "./tls13-keys.ts";

/** TLSPlaintext header: type, legacy version, length (RFC 8446 §5.1). */
export const RECORD_HEADER = 5;
/** RFC 8446 §5.2: TLSCiphertext.length ≤ 2^14 + 256 (also bounds TLS 1.2 records). */
const MAX_RECORD_BODY = 16384 + 256;
/** Largest handshake message we reassemble (a 4-certificate chain is a few KB). */
const MAX_HANDSHAKE_MESSAGE = 65536;
/** Encrypted records held while waiting for the traffic secret. */
const MAX_PENDING = 65536;

const CT_CHANGE_CIPHER_SPEC = 20;
const CT_ALERT = 21;
export const CT_HANDSHAKE = 22;
const CT_APPLICATION_DATA = 23;

const HS_CERTIFICATE = 11;
const HS_FINISHED = 20;

export interface ScanTargets {
  /** Capture the Certificate message (the peer's chain). */
  certificate: boolean;
  /** Capture the TLS 1.3 Finished; the scan ends there. */
  finished: boolean;
}

export class RecordScanner {
  /** Certificate chain DER, leaf first; null until seen. */
  certificates: Uint8Array[] | null = null;
  /** TLS 1.3 Finished verify_data; null until seen. */
  finished: Uint8Array | null = null;
  /** Reason the scan stopped early (malformed input, undecryptable record, size limit). */
  failed: string | null = null;

  /** Gathers a record that arrives in pieces (allocated only then). */
  private record: Uint8Array | null = null;
  private recordLen = 0;
  private recordNeed = RECORD_HEADER;
  private seenChangeCipherSpec = false;
  private decryptor: RecordDecryptor | null = null;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private hs = new Uint8Array(1024);
  private hsLen = 0;
  private hsEncrypted = false;
  private stopped = false;

  constructor(private readonly targets: ScanTargets) {}

  get done(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.decryptor = null;
  }

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && !this.stopped) {
      // Usual case: a whole record inside the chunk — looked at in place, nothing copied.
      if (this.recordLen === 0 && chunk.length - i >= RECORD_HEADER) {
        const length = this.headerLength(chunk, i);
        if (length < 0) return;
        if (chunk.length - i >= RECORD_HEADER + length) {
          this.onRecord(chunk.subarray(i, i + RECORD_HEADER + length));
          i += RECORD_HEADER + length;
          continue;
        }
      }
      // A record split across chunks: gather it.
      const record = (this.record ??= new Uint8Array(RECORD_HEADER + MAX_RECORD_BODY));
      const n = Math.min(this.recordNeed - this.recordLen, chunk.length - i);
      record.set(chunk.subarray(i, i + n), this.recordLen);
      this.recordLen += n;
      i += n;
      if (this.recordLen < this.recordNeed) break;
      if (this.recordNeed === RECORD_HEADER) {
        const length = this.headerLength(record, 0);
        if (length < 0) return;
        this.recordNeed = RECORD_HEADER + length;
        if (length > 0) continue;
      }
      this.onRecord(record.subarray(0, this.recordNeed));
      this.recordLen = 0;
      this.recordNeed = RECORD_HEADER;
    }
  }

  /** Body length from the record header at `o`, or -1 (scan failed) if it is not a TLS record. */
  private headerLength(b: Uint8Array, o: number): number {
    const type = b[o];
    const length = (b[o + 3] << 8) | b[o + 4];
    if (type < CT_CHANGE_CIPHER_SPEC || type > CT_APPLICATION_DATA || b[o + 1] !== 3 || length > MAX_RECORD_BODY) {
      this.fail("not a TLS record");
      return -1;
    }
    return length;
  }

  /** The handshake traffic secret protecting this direction (TLS 1.3 keylog). */
  setSecret(secret: Uint8Array): void {
    if (this.stopped || this.decryptor !== null) return;
    try {
      this.decryptor = new RecordDecryptor(secret);
    } catch {
      this.fail("unsupported traffic secret");
      return;
    }
    const held = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (let k = 0; k < held.length && !this.stopped; k++) this.openRecord(held[k]);
  }

  private onRecord(rec: Uint8Array): void {
    switch (rec[0]) {
      case CT_CHANGE_CIPHER_SPEC:
        this.seenChangeCipherSpec = true;
        return;
      case CT_ALERT:
        this.stop(); // a plaintext alert ends the handshake
        return;
      case CT_HANDSHAKE:
        // After ChangeCipherSpec, TLS 1.2 handshake records are encrypted (unreadable to us) and a
        // TLS 1.3 plaintext one can only be a second ClientHello: neither carries what we want.
        if (!this.seenChangeCipherSpec) this.appendHandshake(rec.subarray(RECORD_HEADER), false);
        return;
      case CT_APPLICATION_DATA:
        if (this.decryptor !== null) this.openRecord(rec);
        else if (this.pendingBytes + rec.length > MAX_PENDING) this.fail("too many records before the traffic secret");
        else {
          this.pending.push(rec.slice());
          this.pendingBytes += rec.length;
        }
        return;
    }
  }

  private openRecord(rec: Uint8Array): void {
    const plain = this.decryptor!.open(rec.subarray(0, RECORD_HEADER), rec.subarray(RECORD_HEADER));
    if (plain === null) {
      this.fail("cannot decrypt a handshake record");
      return;
    }
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--; // RFC 8446 §5.4 padding
    if (end === 0 || plain[end - 1] !== CT_HANDSHAKE) {
      this.stop(); // alert or application data: the handshake messages we scan for are behind us
      return;
    }
    this.appendHandshake(plain.subarray(0, end - 1), true);
  }

  /** Handshake messages may span records; TLS 1.3 forbids spanning a key change. */
  private appendHandshake(data: Uint8Array, encrypted: boolean): void {
    if (encrypted !== this.hsEncrypted) {
      this.hsEncrypted = encrypted;
      this.hsLen = 0;
    }
    if (this.hsLen + data.length > this.hs.length) {
      if (this.hsLen + data.length > MAX_HANDSHAKE_MESSAGE + 4 + MAX_RECORD_BODY) {
        this.fail("handshake message too large");
        return;
      }
      const grown = new Uint8Array(Math.max(this.hs.length * 2, this.hsLen + data.length));
      grown.set(this.hs.subarray(0, this.hsLen));
      this.hs = grown;
    }
    this.hs.set(data, this.hsLen);
    this.hsLen += data.length;
    let o = 0;
    while (!this.stopped && this.hsLen - o >= 4) {
      const type = this.hs[o];
      const len = (this.hs[o + 1] << 16) | (this.hs[o + 2] << 8) | this.hs[o + 3];
      if (len > MAX_HANDSHAKE_MESSAGE) {
        this.fail("handshake message too large");
        return;
      }
      if (this.hsLen - o < 4 + len) break;
      this.onHandshakeMessage(type, this.hs.subarray(o + 4, o + 4 + len), encrypted);
      o += 4 + len;
    }
    if (o > 0) {
      this.hs.copyWithin(0, o, this.hsLen);
      this.hsLen -= o;
    }
  }

  private onHandshakeMessage(type: number, body: Uint8Array, encrypted: boolean): void {
    if (type === HS_CERTIFICATE && this.targets.certificate && this.certificates === null) {
      // TLS 1.3 Certificate messages are always encrypted, TLS 1.2 ones never are.
      const chain = parseCertificateMessage(body, encrypted);
      if (chain === null) {
        this.fail("malformed Certificate message");
        return;
      }
      this.certificates = chain;
      if (!this.targets.finished) this.stop();
    } else if (type === HS_FINISHED && encrypted) {
      if (this.targets.finished) this.finished = body.slice();
      this.stop();
    }
  }

  private fail(reason: string): void {
    this.failed = reason;
    this.stop();
  }
}
