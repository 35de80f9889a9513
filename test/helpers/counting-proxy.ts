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

/** A TCP relay on 127.0.0.1 that counts connections: registered in Consul instead of a server, it shows connection reuse. */
export class CountingTcpRelay {
  connections = 0;
  private readonly sockets = new Set<import('node:net').Socket>();

  private constructor(
    private readonly server: import('node:net').Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CountingTcpRelay> {
    let relay!: CountingTcpRelay;
    const server = createTcpServer((client) => {
      relay.connections++;
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
      relay.sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
        relay.sockets.delete(client);
        relay.sockets.delete(upstream);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    relay = new CountingTcpRelay(server, (server.address() as { port: number }).port);
    return relay;
  }

  async stop(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
