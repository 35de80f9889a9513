import { ConsulDiscoveryService } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { CountingHttpProxy } from '../test/helpers/counting-proxy.js';
import { registerTtl, startApp } from './context.js';
import { fmt, table } from './stats.js';

const IDLE_MS = 30_000;
const CHURN_MS = 10_000;

/** 3. Requests the agent receives per watched service: idle, and while something changes every 100 ms. */
export async function consulLoadBench(agent: ConsulAgent): Promise<string> {
  const proxy = await CountingHttpProxy.start(agent.httpPort);
  const app = await startApp(proxy.port); // defaults: wait 5m, rate limit 10/s burst 10
  const discovery = app.get(ConsulDiscoveryService);
  const count = (service: string) => proxy.count(`/v1/health/service/${service}`);
  try {
    await registerTtl(agent, 'bench_idle', 'idle-1', 7301);
    await registerTtl(agent, 'bench_churn', 'churn-1', 7302);
    await registerTtl(agent, 'bench_neighbour', 'neighbour-1', 7303);
    const subscriptions = ['bench_idle', 'bench_churn', 'bench_neighbour'].map((s) => discovery.watch(s).subscribe());
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idleBefore = count('bench_idle');
    const churnBefore = count('bench_churn');
    const neighbourBefore = count('bench_neighbour');

    // 100 changes of bench_churn's own instance (its meta), one per 100 ms, during the first 10 s of the idle window.
    const churnStarted = Date.now();
    for (let i = 0; Date.now() - churnStarted < CHURN_MS; i++) {
      await registerTtl(agent, 'bench_churn', 'churn-1', 7302, 'passing', { version: String(i) });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const churnRequests = count('bench_churn') - churnBefore;
    const neighbourRequests = count('bench_neighbour') - neighbourBefore;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, IDLE_MS - (Date.now() - churnStarted))));
    const idleRequests = count('bench_idle') - idleBefore;
    subscriptions.forEach((s) => s.unsubscribe());
    return table(
      '3. Load on Consul (requests the agent received, counted by a proxy in front of it)',
      ['watched service', 'window', 'requests', 'per second'],
      [
        ['idle', `${IDLE_MS / 1000} s`, fmt(idleRequests), fmt(idleRequests / (IDLE_MS / 1000), 2)],
        [
          'its instance changes every 100 ms',
          `${CHURN_MS / 1000} s`,
          fmt(churnRequests),
          fmt(churnRequests / (CHURN_MS / 1000), 1),
        ],
        [
          'another service changes every 100 ms',
          `${CHURN_MS / 1000} s`,
          fmt(neighbourRequests),
          fmt(neighbourRequests / (CHURN_MS / 1000), 2),
        ],
      ],
      [
        'Targets: at most 1 request per wait period (5 min) when idle; bounded by the rate limit (10/s, burst 10) under churn.',
        "A blocking query on one service is not woken by another service's changes: Consul keeps an index per service.",
      ],
    );
  } finally {
    await app.close();
    await proxy.stop();
  }
}
