// A control-port client as an operator's script would use it: TCP lines in, lines out. A reply
// ends where the answer to a following `help` begins (help is allowed in every role and prints
// one known line), so no reply is read by waiting for time to pass.
import { connect, type Socket } from "node:net";
import { HELP } from "../../../src/server/control/session.ts";

export class ControlClient {
  private buf = "";
  private readonly lines: string[] = [];
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        this.lines.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake();
    });
    sock.on("close", () => {
      this.closed = true;
      this.wake();
    });
    sock.on("error", () => {});
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  static open(port: number): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(new ControlClient(s)));
      s.once("error", reject);
    });
  }

  /** One command in a session authenticated with `password`; the session is closed after it. */
  static async command(port: number, password: string, command: string): Promise<string[]> {
    const c = await ControlClient.open(port);
    try {
      await c.greeting();
      await c.cmd(`auth ${password}`);
      return await c.cmd(command);
    } finally {
      c.close();
    }
  }

  /** The next line, or null once the server closed the connection and nothing is left. */
  async line(): Promise<string | null> {
    while (this.lines.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((r) => (this.waiter = r));
    }
    return this.lines.shift()!;
  }

  /** The two greeting lines. */
  async greeting(): Promise<string[]> {
    return [(await this.line())!, (await this.line())!];
  }

  sendRaw(data: string | Uint8Array): void {
    this.sock.write(data);
  }

  /** Sends one command and returns its reply lines. */
  async cmd(command: string): Promise<string[]> {
    this.sock.write(`${command}\nhelp\n`);
    const out: string[] = [];
    for (;;) {
      const l = await this.line();
      if (l === null) throw new Error(`connection closed after ${JSON.stringify(out)}`);
      if (l === HELP) return out;
      out.push(l);
    }
  }

  /** Lines until the server closes the connection. */
  async rest(): Promise<string[]> {
    const out: string[] = [];
    for (let l = await this.line(); l !== null; l = await this.line()) out.push(l);
    return out;
  }

  close(): void {
    this.sock.destroy();
  }
}
