import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer } from 'node:net';

/** An answer the proxy gives instead of the agent's. */
export interface ForgedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of a Consul agent that counts the requests the agent
 * receives, by path: how tests see what a watch really costs Consul. `forge()` makes it answer
 * the next requests of a path itself, with odd answers no real agent gives (a broken proxy's).
 */
export class CountingHttpProxy {
  readonly requests: Array<{ path: string; query: URLSearchParams }> = [];
  private readonly forged: Array<{ pathPrefix: string; answers: ForgedAnswer[] }> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CountingHttpProxy> {
    let proxy!: CountingHttpProxy;
    const server = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      proxy.requests.push({ path: url.pathname, query: url.searchParams });
      const forged = proxy.forged.find((f) => url.pathname.startsWith(f.pathPrefix) && f.answers.length > 0);
      if (forged) {
        const answer = forged.answers.shift()!;
        res.writeHead(answer.status, answer.headers).end(answer.body);
        return;
      }
      const upstream = request(
        { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new CountingHttpProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  /** Answers the next `answers.length` requests under `pathPrefix` with `answers`, in order. */
  forge(pathPrefix: string, answers: ForgedAnswer[]): void {
    this.forged.push({ pathPrefix, answers: [...answers] });
  }

  /** Forged answers not served yet. */
  get forgedLeft(): number {
    return this.forged.reduce((sum, f) => sum + f.answers.length, 0);
  }

  count(pathPrefix: string): number {
    return this.requests.filter((r) => r.path.startsWith(pathPrefix)).length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A TCP relay on 127.0.0.1 that counts connections: registered in Consul instead of a server, it
 * shows connection reuse. `cut()` drops every connection and stops listening (new connections are
 * refused) and `restore()` listens again on the same port: put in front of a Consul agent, it makes
 * Consul unreachable for an app while the agent keeps its state.
 */
export class CountingTcpRelay {
  connections = 0;
  private readonly sockets = new Set<import('node:net').Socket>();
  private server: import('node:net').Server;

  private constructor(
    private readonly targetPort: number,
    public port = 0,
  ) {
    this.server = this.createServer();
  }

  static async start(targetPort: number): Promise<CountingTcpRelay> {
    const relay = new CountingTcpRelay(targetPort);
    await relay.listen();
    relay.port = (relay.server.address() as { port: number }).port;
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

  private createServer(): import('node:net').Server {
    return createTcpServer((client) => {
      this.connections++;
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
