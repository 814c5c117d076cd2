/**
 * The control port's listener (Transport/Server.hs:runLocalTCPServer): TCP on 127.0.0.1 only,
 * one line per command, CR LF or LF. Beyond the reference, so that nothing sent here can touch
 * the SMP listeners: a line longer than 4 KB, more than 8 sessions at once, three wrong
 * passwords in a session, more than 64 unanswered commands, or 10 idle minutes close the session.
 * A reply of any size streams out; the next command runs only once the client has taken it, so
 * a client that does not read holds one reply and at most 64 command lines. So that sessions which never authenticate cannot lock the operator
 * out, a session still in role CPRNone is closed after 30 s, and when all places are taken a new
 * session takes the place of the oldest one not authenticated (refused only when all are).
 */
import type { Socket, TCPSocketListener } from "bun";
import { log } from "../../util/log.ts";
import { ControlParseError, parseControlLine } from "./protocol.ts";
import { ControlSession, GREETING, type ControlContext } from "./session.ts";

export const MAX_LINE = 4096;
const EMPTY = Buffer.alloc(0);
export const MAX_SESSIONS = 8;
export const MAX_FAILED_AUTHS = 3;
/** Commands read but not yet answered. */
export const MAX_PENDING_LINES = 64;
const IDLE_MS = 600_000;
export const AUTH_DEADLINE_MS = 30_000;

interface State {
  session: ControlSession;
  buf: string;
  /** Lines waiting while a command runs: one command at a time, in order. */
  queue: string[];
  busy: boolean;
  /** Reply bytes the socket has not taken yet. */
  out: Buffer;
  /** Resolves when `out` is empty (or the session closes): the next command waits for it. */
  drained: (() => void) | null;
  closing: boolean;
  /** Holds one of the MAX_SESSIONS places. */
  counted: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Closes the session if it is still not authenticated. */
  authTimer: ReturnType<typeof setTimeout> | undefined;
}

export interface ControlServer {
  readonly port: number;
  stop(): void;
}

export function startControlServer(ctx: ControlContext): ControlServer {
  const authDeadlineMs = ctx.options.authDeadlineMs ?? AUTH_DEADLINE_MS;
  let sessions = 0;
  /** Sessions in role CPRNone, oldest first (a Set keeps insertion order). */
  const unauthenticated = new Set<Socket<State>>();
  const listener: TCPSocketListener<State> = Bun.listen<State>({
    hostname: "127.0.0.1",
    port: ctx.options.port,
    socket: {
      open(s) {
        s.data = { session: new ControlSession(ctx), buf: "", queue: [], busy: false, out: EMPTY, drained: null, closing: false, counted: false, timer: undefined, authTimer: undefined };
        if (sessions >= MAX_SESSIONS) {
          const oldest = unauthenticated.values().next();
          if (oldest.done === true) {
            s.data.closing = true;
            s.end("error: too many control port sessions\n");
            return;
          }
          close(oldest.value, "error: too many control port sessions: closing the oldest one not authenticated");
        }
        sessions++;
        s.data.counted = true;
        unauthenticated.add(s);
        s.data.authTimer = setTimeout(() => close(s, `error: not authenticated within ${authDeadlineMs / 1000} s`), authDeadlineMs);
        s.data.authTimer.unref?.();
        touch(s);
        write(s, GREETING);
      },
      data(s, chunk) {
        const st = s.data;
        if (st.closing) return;
        touch(s);
        // Latin-1 keeps one character per byte: line length is counted in bytes, garbage stays harmless.
        st.buf += Buffer.from(chunk).toString("latin1");
        for (;;) {
          const nl = st.buf.indexOf("\n");
          if (nl < 0) break;
          st.queue.push(st.buf.slice(0, nl).replace(/\r$/, ""));
          st.buf = st.buf.slice(nl + 1);
        }
        if (st.buf.length > MAX_LINE || st.queue.some((l) => l.length > MAX_LINE)) {
          st.queue.length = 0;
          close(s, "error: line too long");
          return;
        }
        if (st.queue.length > MAX_PENDING_LINES) {
          st.queue.length = 0;
          close(s, "error: too many commands at once");
          return;
        }
        void drainQueue(s);
      },
      drain(s) {
        flush(s);
      },
      close(s) {
        release(s);
        s.data.closing = true;
        wakeWriter(s);
      },
      error(s, e) {
        log.debug(`control port connection error: ${e.message}`);
      },
    },
  });

  function authenticated(s: Socket<State>): void {
    clearTimeout(s.data.authTimer);
    s.data.authTimer = undefined;
    unauthenticated.delete(s);
  }

  function release(s: Socket<State>): void {
    authenticated(s);
    clearTimeout(s.data.timer);
    s.data.timer = undefined;
    if (s.data.counted) {
      s.data.counted = false;
      sessions--;
    }
  }

  function touch(s: Socket<State>): void {
    clearTimeout(s.data.timer);
    s.data.timer = setTimeout(() => close(s, "error: idle timeout"), IDLE_MS);
    s.data.timer.unref?.();
  }

  async function drainQueue(s: Socket<State>): Promise<void> {
    const st = s.data;
    if (st.busy) return;
    st.busy = true;
    try {
      while (st.queue.length > 0 && !st.closing) {
        const line = st.queue.shift()!;
        let reply: string[];
        try {
          const cmd = parseControlLine(line);
          if (cmd.cmd === "quit") {
            close(s);
            return;
          }
          reply = await st.session.run(cmd);
        } catch (e) {
          if (e instanceof ControlParseError) reply = [`error: ${e.message}`];
          else {
            log.error(`control port command failed: ${(e as Error).message}`);
            reply = [`error: ${(e as Error).message}`];
          }
        }
        if (st.session.role !== "CPRNone") authenticated(s);
        write(s, reply);
        if (st.out.length > 0 && !st.closing) await new Promise<void>((r) => (st.drained = r));
        if (st.session.failedAuths >= MAX_FAILED_AUTHS) close(s, "error: too many failed authentication attempts");
      }
    } finally {
      st.busy = false;
    }
  }

  function write(s: Socket<State>, lines: string[]): void {
    if (lines.length === 0 || s.data.closing) return;
    const bytes = Buffer.from(lines.join("\n") + "\n", "utf8");
    s.data.out = s.data.out.length === 0 ? bytes : Buffer.concat([s.data.out, bytes]);
    flush(s);
  }

  function flush(s: Socket<State>): void {
    const st = s.data;
    if (st.out.length > 0) {
      const n = s.write(st.out);
      // A view past what was taken: a large reply is never copied again.
      if (n > 0) st.out = n >= st.out.length ? EMPTY : st.out.subarray(n);
    }
    if (st.out.length === 0) wakeWriter(s);
  }

  function wakeWriter(s: Socket<State>): void {
    const w = s.data.drained;
    s.data.drained = null;
    w?.();
  }

  function close(s: Socket<State>, lastLine?: string): void {
    const st = s.data;
    if (st.closing) return;
    if (lastLine !== undefined) st.out = Buffer.concat([st.out, Buffer.from(lastLine + "\n", "utf8")]);
    st.closing = true;
    release(s);
    const rest = st.out;
    st.out = EMPTY;
    wakeWriter(s);
    if (rest.length > 0) s.end(rest);
    else s.end();
  }

  return {
    port: listener.port,
    stop: () => listener.stop(true),
  };
}
