import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 that can black-hole its traffic, as a network partition does: while
 * `partition()`ed, no byte crosses in either direction on open connections, and new connections
 * are accepted but never reach the target (a request hangs until its own timeout, nothing is
 * refused or reset). `heal()` lets the held bytes and connections through again, as TCP
 * retransmission would once the network is back.
 */
export class BlackHoleRelay {
  private readonly server: Server;
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  private cut = false;
  port = 0;

  private constructor(private readonly targetPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(targetPort: number): Promise<BlackHoleRelay> {
    const relay = new BlackHoleRelay(targetPort);
    await new Promise<void>((resolve, reject) => {
      relay.server.once('error', reject).listen(0, '127.0.0.1', () => resolve());
    });
    relay.port = (relay.server.address() as { port: number }).port;
    return relay;
  }

  get partitioned(): boolean {
    return this.cut;
  }

  /** Stops every byte, both ways; held connections stay open. */
  partition(): void {
    this.cut = true;
    for (const { client, upstream } of this.pairs) {
      client.pause();
      upstream?.pause();
    }
  }

  /** Lets traffic through again, held bytes and held new connections included. */
  heal(): void {
    this.cut = false;
    for (const pair of this.pairs) {
      if (!pair.upstream) this.connect(pair);
      pair.client.resume();
      pair.upstream!.resume();
    }
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    this.pairs.clear();
    await closed;
  }

  private accept(client: Socket): void {
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.pairs.add(pair);
    const close = () => {
      client.destroy();
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    };
    client.on('error', close).on('close', close);
    if (this.cut) client.pause();
    else this.connect(pair);
  }

  private connect(pair: { client: Socket; upstream?: Socket }): void {
    const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
    pair.upstream = upstream;
    // Not pipe(): its flow control would resume a side that partition() paused.
    pair.client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => pair.client.write(chunk));
    pair.client.on('end', () => upstream.end());
    upstream.on('end', () => pair.client.end());
    const close = () => {
      pair.client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    upstream.on('error', close).on('close', close);
    if (this.cut) upstream.pause();
  }
}
