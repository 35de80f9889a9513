import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createConnection, createServer as createTcpServer } from 'node:net';

/**
 * An HTTP proxy on 127.0.0.1 in front of a Consul agent that counts the requests the agent
 * receives, by path: how tests see what a watch really costs Consul.
 */
export class CountingHttpProxy {
  readonly requests: Array<{ path: string; query: URLSearchParams }> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CountingHttpProxy> {
    let proxy!: CountingHttpProxy;
    const server = createHttpServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      proxy.requests.push({ path: url.pathname, query: url.searchParams });
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
