import { createServer, type Server, type Socket } from 'node:net';
import { ConsulRegistrar, ConsulUnavailableError } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, listenFailure, startHttpApp } from '../helpers/consul-app.js';
import { CountingTcpRelay } from '../helpers/counting-proxy.js';
import { eventually } from '../helpers/eventually.js';

/** Accepts connections and never answers: an agent behind a black-holed network (no RST, no reply). */
class BlackHole {
  /** Chunks received: a request reached it. */
  received = 0;
  private readonly sockets = new Set<Socket>();
  private server!: Server;

  static async listen(port = 0): Promise<BlackHole> {
    const hole = new BlackHole();
    hole.server = createServer((socket) => {
      hole.sockets.add(socket);
      socket.on('data', () => hole.received++);
      socket.on('error', () => undefined);
      socket.on('close', () => hole.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hole.server.listen(port, '127.0.0.1', resolve));
    return hole;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    this.sockets.forEach((socket) => socket.destroy());
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const FALSE_RETRY = 'Retrying in the background';

describe('shutdown and bootstrap failures say only what is true, within one consul.timeout (real Consul agent)', () => {
  const suite = useConsulAgent();
  const { apps } = suite;
  let agent: ConsulAgent;
  beforeAll(() => (agent = suite.agent));

  it('finishes shutdown within one consul.timeout against a black-holed agent: maintenance and deregistration share it', async () => {
    const relay = await CountingTcpRelay.start(agent.httpPort);
    const started = await startHttpApp(
      consulOptions(agent, { consul: { port: relay.port }, service: { name: 'blackholed' } }), // consul.timeout 2s
    );
    const registrar = started.app.get(ConsulRegistrar);
    await registrar.whenRegistered();
    const id = registrar.instanceId!;
    await relay.cut();
    const hole = await BlackHole.listen(relay.port);
    // Once the app's pooled connection has seen the cut, every shutdown request opens a new one: into the hole.
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      const before = Date.now();
      await started.app.close();
      const ms = Date.now() - before;
      process.stdout.write(`shutdown against a black-holed agent: ${ms} ms (consul.timeout 2s)\n`);
      // Before: 2 s for maintenance, then 2 s more for deregistration.
      expect(ms).toBeLessThan(2_000 + 500);
      expect(hole.received).toBeGreaterThan(0); // the shutdown did try
      expect(started.logger.find('WARN', 'ConsulRegistrar').join('\n')).toMatch(
        new RegExp(
          `Could not deregister ${id}: no answer within consul.timeout \\(2s\\), which bounds the whole shutdown`,
        ),
      );
      expect(started.logger.text).not.toContain(FALSE_RETRY);
    } finally {
      await hole.close();
      await agent.deregister(id);
    }
  });

  it('cancels a first registration still in flight at shutdown instead of waiting for its timeout', async () => {
    const hole = await BlackHole.listen();
    try {
      const started = await startHttpApp(
        consulOptions(agent, { consul: { port: hole.port, timeout: '5s' }, service: { name: 'never_answered' } }),
      );
      await eventually(() => hole.received > 0, { what: 'the registration request to reach the black hole' });
      const before = Date.now();
      await started.app.close();
      const ms = Date.now() - before;
      process.stdout.write(`shutdown with the first registration in flight: ${ms} ms (consul.timeout 5s)\n`);
      expect(ms).toBeLessThan(1_000); // before: until the 5 s timeout of the registration
      expect(started.app.get(ConsulRegistrar).isRegistered).toBe(false);
      expect(started.logger.text).not.toContain(FALSE_RETRY);
      expect(started.logger.lines.filter((line) => /^(WARN|ERROR)/.test(line))).toEqual([]);
    } finally {
      await hole.close();
    }
  });

  it('says no "Retrying in the background" when the agent is gone at shutdown', async () => {
    const doomed = await ConsulAgent.start();
    const started = await startHttpApp(consulOptions(doomed, { service: { name: 'orphan2' } }));
    await started.app.get(ConsulRegistrar).whenRegistered();
    await doomed.stop();
    await started.app.close();
    expect(started.logger.find('WARN', 'ConsulRegistrar').join('\n')).toMatch(/Could not deregister orphan2-/);
    expect(started.logger.text).not.toContain(FALSE_RETRY);
  });

  it('with failFast, bootstrap fails with the reason and says only that (no "Retrying in the background")', async () => {
    const nobody = await ConsulAgent.reserve();
    const started = await startHttpApp(
      consulOptions(nobody, { service: { name: 'strict2' }, registration: { failFast: true } }),
      { listen: false },
    );
    apps.push(started);
    const error = await listenFailure(started.app);
    expect(error).toBeInstanceOf(ConsulUnavailableError);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(started.logger.text).not.toContain(FALSE_RETRY);
    expect(started.logger.find('WARN', 'ConsulApi')).toEqual([]);
  });
});
