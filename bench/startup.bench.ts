import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { fmt, percentile, summary, table } from './stats.js';

// Single start-ups vary by ±20 ms on this kind of machine (JIT, page faults, the other core's
// work); 31 rounds keep the median of the per-round differences within a few ms of itself from
// run to run, where 15 rounds moved it by ±4 ms.
const ROUNDS = 31;
const WORKER = fileURLToPath(new URL('./startup-worker.js', import.meta.url));
const run = promisify(execFile);

/**
 * 9. Start-up: NestFactory.create() to the first request served, each in a fresh process, the
 * app with ConsulModule (registration, 4 config contexts, 3 typed clients) and without it,
 * interleaved round by round (the order alternates) so drift on the machine hits both alike.
 */
export async function startupBench(agent: ConsulAgent): Promise<string> {
  for (const context of ['startup_app,production', 'startup_app', 'application,production', 'application']) {
    await agent.api(`/v1/kv/config/${context}/greeting`, { method: 'PUT', body: `"from ${context}"` });
  }
  const samples = { without: [] as number[], static: [] as number[], with: [] as number[], registered: [] as number[] };
  const variants = ['without', 'static', 'with'] as const;
  for (let round = 0; round < ROUNDS; round++) {
    // Rotated each round, so drift on the machine hits every variant alike.
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const variant of order) {
      const { stdout } = await run(process.execPath, [WORKER, variant, String(agent.httpPort), 'startup_app'], {
        timeout: 30_000,
      });
      const { served, registered } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        served: number;
        registered: number;
      };
      samples[variant].push(served);
      if (variant === 'with') samples.registered.push(registered);
    }
  }
  const spread = (values: number[]) => {
    const s = summary(values);
    return `${fmt(s.p50, 1)} (${fmt(Math.min(...values), 1)}–${fmt(s.max, 1)})`;
  };
  // Paired by round: each round's three processes ran back to back, so a difference within a round
  // is freer of the machine's drift than a difference of the medians. Its quartiles say how far
  // one round can be trusted; the extremes are single noisy start-ups.
  const added = (base: number[]) => {
    const sorted = samples.with.map((value, round) => value - base[round]).toSorted((a, b) => a - b);
    const [p25, p50, p75] = [25, 50, 75].map((p) => fmt(percentile(sorted, p), 1));
    return `${p50} (quartiles ${p25}–${p75}; ${fmt(sorted[0], 1)}–${fmt(sorted.at(-1)!, 1)})`;
  };
  return table(
    `6. Start-up: \`NestFactory.create()\` to the first request served (${ROUNDS} fresh processes each, ms, median (min–max))`,
    ['app', 'first request served', 'registered in Consul'],
    [
      ['without ConsulModule, no clients', spread(samples.without), '—'],
      ['without ConsulModule, the same 3 clients on static addresses', spread(samples.static), '—'],
      ['with registration, 4 config contexts, 3 typed clients', spread(samples.with), spread(samples.registered)],
      ['added over the app with static clients (median of the per-round differences)', added(samples.static), ''],
      ['added over the app with no clients (median of the per-round differences)', added(samples.without), ''],
    ],
    [
      'Target: under 30 ms added. Registration starts once the server listens; the wait for its check to pass is not counted.',
      'The static clients are what the app would build without the module (ClientsModule for gRPC and TCP, an undici',
      'Agent for HTTP): the gRPC one loads grpc-js and parses the proto either way.',
    ],
  );
}
