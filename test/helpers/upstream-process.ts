import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConsulAgent } from './consul-agent.js';
import { HELLO_PROTO } from './consul-microservice.js';

const UPSTREAM_APP = fileURLToPath(new URL('../fixtures/upstream-app.mjs', import.meta.url));
const running = new Set<ChildProcess>();
// A crashed test worker must not leave upstream apps behind.
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/**
 * An upstream instance (test/fixtures/upstream-app.mjs) in its own process: HTTP `GET /who` or
 * gRPC `hello.Greeter/Hello`, registered in Consul by the module with its own health check.
 */
export class UpstreamProcess {
  private output = '';

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const collect = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-10_000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
  }

  static start(agent: ConsulAgent, protocol: 'http' | 'grpc', service: string, name: string): UpstreamProcess {
    const child = spawn(
      process.execPath,
      [UPSTREAM_APP, protocol, `${agent.host}:${agent.httpPort}`, service, name, HELLO_PROTO],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    running.add(child);
    child.once('exit', () => running.delete(child));
    return new UpstreamProcess(name, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get log(): string {
    return this.output;
  }

  /**
   * SIGTERM (Nest's shutdown hooks: maintenance, drain, deregister) and waits for the exit, or
   * SIGKILL (a crash: nothing deregisters). Bounded: SIGKILL after 15 s.
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const { child } = this;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }
}
