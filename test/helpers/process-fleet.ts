import { type ChildProcess, spawn } from 'node:child_process';

/** One line a fleet process wrote to stdout: what happened, to whom, when (Date.now()). */
export interface FleetEvent {
  event: string;
  name: string;
  t: number;
}

const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/**
 * Node processes of one fixture script, each under a name, collecting the JSON lines they print, in
 * arrival order, with the times the test killed them. Every process is stopped by its pid.
 */
export class ProcessFleet<E extends FleetEvent> {
  readonly events: E[] = [];
  readonly killedAt = new Map<string, number>();
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly script: string) {}

  get names(): string[] {
    return [...this.children.keys()];
  }

  start(name: string, args: string[]): string {
    const child = spawn(process.execPath, [this.script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.startsWith('{')) this.events.push(JSON.parse(line) as E);
    });
    child.stderr!.on('data', () => undefined);
    this.children.set(name, child);
    return name;
  }

  /** Sends `signal` and waits for the exit (SIGKILL after 15 s); returns when it was sent. */
  async stop(name: string, signal: 'SIGTERM' | 'SIGKILL'): Promise<number> {
    const child = this.children.get(name)!;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const at = Date.now();
    if (signal === 'SIGKILL') this.killedAt.set(name, at);
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
    this.children.delete(name);
    return at;
  }

  /** Freezes (`SIGSTOP`) or thaws (`SIGCONT`) a process, as a long GC pause or a frozen VM would; returns when it was sent. */
  freeze(name: string, signal: 'SIGSTOP' | 'SIGCONT'): number {
    const at = Date.now();
    this.children.get(name)!.kill(signal);
    return at;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.names.map((name) => this.stop(name, 'SIGKILL')));
  }

  first(event: E['event'], name: string, since = 0): E | undefined {
    return this.events.find((e) => e.event === event && e.name === name && e.t >= since);
  }
}

export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}
