/**
 * Which accepted TCP connections a server keeps: counted from accept to close — TLS setup
 * included, so sockets that never finish it are bounded too — against a total and a
 * per-source-address bound. A refused socket is closed at once: it never holds a file descriptor
 * long enough for the process to run out of them (and for accept() to fail with EMFILE, which
 * Bun's listener retries in a busy loop).
 */
import { ipv6Bytes } from "../encoding/ip-address.ts";

/** "suspended": the operator paused accepting (control port `suspend`). */
export type Refusal = "max-connections" | "per-address" | "suspended";

export interface AdmissionLimits {
  /** Connections open at once, all addresses. */
  maxConnections: number;
  /** Connections open at once from one source address (an IPv6 /64); 0 = no bound. */
  maxPerAddress: number;
  /** Also bound loopback peers per address (tests; by default a local Tor or proxy is exempt). */
  limitLoopback?: boolean;
}

export class Admission {
  open = 0;
  /** Set by the control port's `suspend`, cleared by `resume`: every new connection is refused. */
  suspended = false;
  private readonly perAddress = new Map<string, number>();

  constructor(readonly limits: AdmissionLimits) {}

  /**
   * Counts a new connection in, or says why not. Returns the key to `release` with (null when
   * only the total counts it).
   */
  admit(remoteAddress: string): { key: string | null } | Refusal {
    if (this.suspended) return "suspended";
    if (this.open >= this.limits.maxConnections) return "max-connections";
    let key: string | null = null;
    if (this.limits.maxPerAddress > 0) {
      key = addressKey(remoteAddress);
      if (key !== null && !this.limits.limitLoopback && isLoopback(key)) key = null;
      if (key !== null) {
        const n = this.perAddress.get(key) ?? 0;
        if (n >= this.limits.maxPerAddress) return "per-address";
        this.perAddress.set(key, n + 1);
      }
    }
    this.open++;
    return { key };
  }

  release(key: string | null): void {
    this.open--;
    if (key === null) return;
    const n = this.perAddress.get(key)! - 1;
    if (n > 0) this.perAddress.set(key, n);
    else this.perAddress.delete(key);
  }
}

/**
 * The unit one peer controls: an IPv4 address, or the /64 prefix of an IPv6 address (one
 * customer's subnet, in which a host can pick any address). IPv4-mapped addresses are IPv4.
 */
export function addressKey(address: string): string | null {
  if (address === "") return null;
  if (!address.includes(":")) return address.toLowerCase();
  const b = ipv6Bytes(address);
  // not an address (the socket layer gives only valid ones): its own text is its own unit
  if (b === null) return address.toLowerCase();
  if (isIpv4Mapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  let key = "";
  for (let i = 0; i < 8; i += 2) key += ((b[i]! << 8) | b[i + 1]!).toString(16) + ":";
  return key + ":/64";
}

/** `::ffff:a.b.c.d`: an IPv4 peer on a dual-stack socket. */
function isIpv4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function isLoopback(key: string): boolean {
  return key.startsWith("127.") || key === "0:0:0:0::/64";
}
