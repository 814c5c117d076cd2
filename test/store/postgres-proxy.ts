// A TCP relay in front of the test cluster that a test can cut and restore: "PostgreSQL lost"
// without stopping the shared cluster.
import type { Socket, TCPSocketListener } from "bun";

interface Pair {
  client: Socket<Pair>;
  upstream: Socket<{ client: Socket<Pair> }> | null;
  buffered: Uint8Array[];
}

export class CuttableRelay {
  private listener: TCPSocketListener<Pair> | null = null;
  private readonly pairs = new Set<Pair>();
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts (or restarts on the same port) accepting and relaying connections. */
  up(): void {
    const relay = this;
    this.listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: this.port,
      socket: {
        open(client) {
          const pair: Pair = { client, upstream: null, buffered: [] };
          client.data = pair;
          relay.pairs.add(pair);
          void Bun.connect<{ client: Socket<Pair> }>({
            hostname: relay.targetHost,
            port: relay.targetPort,
            data: { client },
            socket: {
              open(up) {
                pair.upstream = up;
                for (const b of pair.buffered) up.write(b);
                pair.buffered = [];
              },
              data(up, chunk) {
                up.data.client.write(chunk);
              },
              close(up) {
                up.data.client.end();
              },
              error(up) {
                up.data.client.end();
              },
            },
          }).catch(() => client.end());
        },
        data(client, chunk) {
          const p = client.data;
          if (p.upstream !== null) p.upstream.write(chunk);
          else p.buffered.push(new Uint8Array(chunk));
        },
        close(client) {
          client.data.upstream?.end();
          relay.pairs.delete(client.data);
        },
      },
    });
    this.port = this.listener.port;
  }

  /** Drops every relayed connection and refuses new ones. */
  cut(): void {
    this.listener?.stop(true);
    this.listener = null;
    for (const p of this.pairs) {
      p.client.terminate();
      p.upstream?.terminate();
    }
    this.pairs.clear();
  }
}
