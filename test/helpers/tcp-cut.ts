import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 that can cut the line: `cut()` drops every connection and stops
 * listening (new connections are refused), `restore()` listens again on the same port. Put in
 * front of a Consul agent, it makes Consul unreachable for an app while the agent keeps its state.
 */
export class TcpCut {
  private readonly sockets = new Set<Socket>();
  private server: Server;

  private constructor(
    readonly port: number,
    private readonly targetPort: number,
  ) {
    this.server = this.createServer();
  }

  static async start(targetPort: number): Promise<TcpCut> {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const relay = new TcpCut(port, targetPort);
    await relay.listen();
    return relay;
  }

  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.sockets.forEach((socket) => socket.destroy());
    await closed;
  }

  async restore(): Promise<void> {
    this.server = this.createServer();
    await this.listen();
  }

  stop(): Promise<void> {
    return this.server.listening ? this.cut() : Promise.resolve();
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  private createServer(): Server {
    return createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: this.targetPort });
      this.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
  }
}
