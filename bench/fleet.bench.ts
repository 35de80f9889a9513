import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConsulCluster } from '../test/helpers/consul-cluster.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { registerTtl } from './context.js';
import { fmt, summary, table } from './stats.js';

const PROCESSES = 20;
const SERVICES = 10;
const WINDOW_MS = 60_000;
const CHANGE_EVERY_MS = 1_000;
const WORKER = fileURLToPath(new URL('./fleet-worker.js', import.meta.url));
/** Cumulative counters (Prometheus format) on every agent; a bigger connection limit: all apps share one source address. */
const HCL = [
  'telemetry { prometheus_retention_time = "10m" disable_hostname = true }',
  'limits { http_max_conns_per_client = 5000 }',
];
/** `FLEET_MODES=none/default,agent/default` picks the rows (development); the default is every row. */
const MODES: Mode[] = (process.env.FLEET_MODES ?? 'none/default,none/stale,agent/default').split(',').map((m) => {
  const [cache, consistency] = m.split('/') as [Mode['cache'], Mode['consistency']];
  return { cache, consistency };
});
let nextVersion = 1;
const services = Array.from({ length: SERVICES }, (_, s) => `fleet_${s}`);

/** How the fleet's apps watch. */
interface Mode {
  cache: 'agent' | 'none';
  consistency: 'default' | 'stale';
}

interface ModeResult {
  queries: number[];
  requests: number[];
  propagation: number[];
  /** Changes a process never saw. */
  missed: number;
  /** Lists a process saw that were older than one it had seen already. */
  backwards: number;
}

/**
 * 8. A node of 20 app processes × 10 watched services on the client agent of a 3-server cluster:
 * the blocking queries the servers receive, with and without the agent cache, while one of the
 * services changes every second; and how fast each process sees each change.
 */
export async function fleetBench(): Promise<string> {
  const cluster = await ConsulCluster.start({ hcl: HCL });
  try {
    for (const service of services) await registerTtl(cluster.client, service, `${service}-1`, 7400, 'passing');
    const results: Array<[Mode, ModeResult]> = [];
    for (const mode of MODES) results.push([mode, await measure(cluster, mode)]);
    const each = (counts: number[]) => counts.map((n) => fmt(n)).join(' / ');
    const total = (counts: number[]) => fmt(counts.reduce((a, b) => a + b, 0));
    return table(
      `9. A node of ${PROCESSES} app processes × ${SERVICES} watched services, 3 servers (${WINDOW_MS / 1000} s, one change per second)`,
      [
        '`cache`, `consistency`',
        'new blocking queries at the servers (each)',
        'RPC requests at the servers (each)',
        'propagation p50 / p99 / max ms',
        'missed / seen backwards',
      ],
      results.map(([mode, r]) => {
        const p = summary(r.propagation);
        return [
          `\`"${mode.cache}"\`, \`"${mode.consistency}"\``,
          `${total(r.queries)} (${each(r.queries)})`,
          `${total(r.requests)} (${each(r.requests)})`,
          `${fmt(p.p50, 1)} / ${fmt(p.p99, 1)} / ${fmt(p.max, 1)}`,
          `${fmt(r.missed)} / ${fmt(r.backwards)}`,
        ];
      }),
      [
        'Counted by the servers themselves, cumulative (Prometheus format): `consul.rpc.query` (new blocking queries) and `consul.rpc.request` (all RPCs), per server.',
        "Each change re-registers one service's instance with a new meta, in turn; propagation is from the start of that API call to a process seeing it (all processes × all changes).",
        'The `"none"`, `"stale"` row reads from a follower without the cache, as the cache always does: what propagation costs there is',
        "the follower's lag, not the cache's (a follower learns of a commit with the leader's next AppendEntries, up to raft's CommitTimeout, 50–100 ms).",
        'Targets: with the cache, one blocking query per change at the servers, not one per process; propagation p99 under 50 ms.',
      ],
    );
  } finally {
    await cluster.stop();
  }
}

async function measure(cluster: ConsulCluster, { cache, consistency }: Mode): Promise<ModeResult> {
  const workers: ChildProcess[] = [];
  const seen = new Map<string, Map<number, number>>(); // `${service}#${version}` → process → when it first saw it
  const latest = new Map<string, number>(); // `${process}:${service}` → the newest version it saw
  let backwards = 0;
  try {
    const ready: Array<Promise<void>> = [];
    for (let p = 0; p < PROCESSES; p++) {
      const worker = spawn(
        process.execPath,
        [WORKER, cluster.client.host, String(cluster.client.httpPort), cache, consistency, services.join(',')],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('exit', (code) => reject(new Error(`fleet worker exited with ${code} before it was ready`)));
          createInterface({ input: worker.stdout! }).on('line', (line) => {
            const message = JSON.parse(line) as { ready?: true; service?: string; version?: number; at?: number };
            if (message.ready) resolve();
            else if (message.at !== undefined && message.version !== undefined) {
              const key = `${message.service}#${message.version}`;
              const sightings = seen.get(key) ?? new Map<number, number>();
              seen.set(key, sightings);
              if (!sightings.has(p)) sightings.set(p, message.at);
              const newest = latest.get(`${p}:${message.service}`) ?? 0;
              if (message.version < newest) backwards++;
              else latest.set(`${p}:${message.service}`, message.version);
            }
          });
        }),
      );
    }
    await withTimeout(Promise.all(ready), 60_000, `${PROCESSES} fleet workers ready`);
    await sleep(1_000); // every watch now blocking
    const before = await serverCounters(cluster.servers);
    const started: Array<{ key: string; at: number }> = [];
    const windowStart = performance.now();
    for (let change = 1; performance.now() - windowStart < WINDOW_MS; change++) {
      const service = services[change % SERVICES];
      // Versions go on across modes: an instance's meta from the previous mode must not pass for a new change.
      const version = nextVersion++;
      const key = `${service}#${version}`;
      const at = performance.timeOrigin + performance.now();
      started.push({ key, at });
      await registerTtl(cluster.client, service, `${service}-1`, 7400, 'passing', { version: String(version) });
      await sleep(Math.max(0, change * CHANGE_EVERY_MS - (performance.now() - windowStart)));
    }
    const after = await serverCounters(cluster.servers);
    const propagation: number[] = [];
    let missed = 0;
    for (const { key, at } of started) {
      const times = [...(seen.get(key)?.values() ?? [])];
      missed += PROCESSES - times.length;
      propagation.push(...times.map((t) => t - at));
    }
    return {
      queries: after.map((c, i) => c.query - before[i].query),
      requests: after.map((c, i) => c.request - before[i].request),
      propagation,
      missed,
      backwards,
    };
  } finally {
    await Promise.all(workers.map(stopWorker));
  }
}

/** `consul.rpc.query` and `consul.rpc.request` of each server, as counted since it started. */
async function serverCounters(servers: ConsulAgent[]): Promise<Array<{ query: number; request: number }>> {
  return Promise.all(
    servers.map(async (server) => {
      const text = await (await server.api('/v1/agent/metrics?format=prometheus')).text();
      return { query: counter(text, 'consul_rpc_query'), request: counter(text, 'consul_rpc_request') };
    }),
  );
}

function counter(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** SIGTERM (the worker closes its app), SIGKILL after 5 s; by pid, never by name. */
async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null || worker.pid === undefined) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  process.kill(worker.pid, 'SIGTERM');
  const timer = setTimeout(
    () => worker.pid !== undefined && worker.exitCode === null && process.kill(worker.pid, 'SIGKILL'),
    5_000,
  );
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
