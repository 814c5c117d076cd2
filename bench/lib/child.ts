/**
 * The benchmark's worker processes: the parent sends one-word commands on stdin, the child
 * answers with one JSON object per stdout line. Parent and child sides live here together.
 */
import type { Subprocess } from "bun";

/** Splits a byte stream into lines. */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf.length > 0) yield buf;
}

// ---------------------------------------------------------------- parent side

export class Worker {
  private readonly out: AsyncGenerator<string>;
  private constructor(
    readonly name: string,
    readonly proc: Subprocess<"pipe", "pipe", "inherit">,
  ) {
    this.out = lines(proc.stdout);
  }

  static spawn(name: string, script: string, args: string[], env?: Record<string, string>): Worker {
    const proc = Bun.spawn([process.execPath, script, ...args], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
      env: { ...process.env, ...env },
    });
    return new Worker(name, proc);
  }

  get pid(): number {
    return this.proc.pid;
  }

  send(command: string): void {
    this.proc.stdin.write(command + "\n");
    this.proc.stdin.flush();
  }

  /** The next JSON message; throws if the worker exits first or reports an error. */
  async next<T = Record<string, unknown>>(): Promise<T> {
    for (;;) {
      const r = await this.out.next();
      if (r.done) throw new Error(`${this.name} exited (code ${await this.proc.exited}) before answering`);
      const line = r.value.trim();
      if (!line.startsWith("{")) continue; // stray output
      const m = JSON.parse(line) as T & { error?: string };
      if (m.error !== undefined) throw new Error(`${this.name}: ${m.error}`);
      return m;
    }
  }

  async stop(): Promise<void> {
    try {
      this.proc.stdin.end();
    } catch {
      // already closed
    }
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 10_000);
    await this.proc.exited;
    clearTimeout(t);
  }
}

export function all<T>(ws: Worker[]): Promise<T[]> {
  return Promise.all(ws.map((w) => w.next<T>()));
}

// ---------------------------------------------------------------- child side

export function emit(msg: object): void {
  process.stdout.write(JSON.stringify(msg) + "\n");
}

/** Commands from the parent, one per line; ends when the parent closes stdin. */
export function commands(): AsyncGenerator<string> {
  return lines(Bun.stdin.stream());
}

/** Reports a failure to the parent and exits. */
export function fail(e: unknown): never {
  emit({ error: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}
