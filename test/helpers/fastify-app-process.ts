import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConsulAgent } from './consul-agent.js';
import { eventually } from './eventually.js';

const FASTIFY_APP = fileURLToPath(new URL('../fixtures/fastify-app.mjs', import.meta.url));
const running = new Set<ChildProcess>();
// A crashed test worker must not leave apps behind.
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/** The Fastify app of test/fixtures/fastify-app.mjs in its own process, registered in Consul by the module. */
export class FastifyAppProcess {
  private output = '';
  /** The port it listens on, once it does. */
  port = 0;

  private constructor(private readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
  }

  /** Starts it and waits until it listens (not until it is registered). */
  static async start(
    agent: ConsulAgent,
    service: string,
    { connect = false }: { connect?: boolean } = {},
  ): Promise<FastifyAppProcess> {
    const args = [FASTIFY_APP, `${agent.host}:${agent.httpPort}`, service, ...(connect ? ['connect'] : [])];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    child.once('exit', () => running.delete(child));
    const app = new FastifyAppProcess(child);
    try {
      app.port = await eventually(
        () => {
          if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}: ${app.output}`);
          const match = /^listening (\d+)$/m.exec(app.output);
          return match ? Number(match[1]) : undefined;
        },
        { what: `the Fastify app "${service}" to listen`, timeoutMs: 20_000 },
      );
      return app;
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  /** Everything it printed (Nest's logger writes to stdout). */
  get log(): string {
    return this.output;
  }

  /**
   * SIGTERM (Nest's shutdown hooks, which raise the signal again once done) and waits for the exit;
   * SIGKILL after 15 s. Resolves with what ended it: `SIGKILL` means the shutdown hung.
   */
  async stop(): Promise<NodeJS.Signals | number | null> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return child.signalCode ?? child.exitCode;
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    );
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const ended = await exited;
    clearTimeout(killer);
    return ended;
  }
}
