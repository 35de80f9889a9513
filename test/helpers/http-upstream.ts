import { createServer, type Server } from 'node:http';
import type { ConsulAgent } from './consul-agent.js';

/** A bare HTTP server on 127.0.0.1 answering `{ name }`, registered through `agent` with an HTTP check. */
export class HttpUpstream {
  private constructor(
    readonly name: string,
    readonly port: number,
    private readonly server: Server,
  ) {}

  static async start(agent: ConsulAgent, service: string, name: string): Promise<HttpUpstream> {
    const server = createServer((_, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ name }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const upstream = new HttpUpstream(name, port, server);
    await HttpUpstream.register(agent, service, upstream);
    return upstream;
  }

  /** Registers `upstream` (again, e.g. on an agent that lost its state), as its own app would. */
  static async register(agent: ConsulAgent, service: string, upstream: HttpUpstream): Promise<void> {
    await agent.register({
      ID: upstream.name,
      Name: service,
      Address: '127.0.0.1',
      Port: upstream.port,
      Check: { HTTP: `http://127.0.0.1:${upstream.port}/health`, Interval: '1s', DeregisterCriticalServiceAfter: '1m' },
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
