import type { Subscription } from 'rxjs';
import { ConsulDiscoveryService, type ServiceInstance } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { registerTtl, startApp } from './context.js';
import { fmt, summary, table } from './stats.js';

const TRIALS = 30;
/**
 * Between changes, so the loop's token bucket (10/s, burst 10) never runs dry: this measures
 * propagation, not the rate limit. A change costs the loop one request; 150 ms refills 1.5.
 */
const SPACING_MS = 150;
const pause = () => new Promise((resolve) => setTimeout(resolve, SPACING_MS));

/** 2. Time from the API call that changes Consul's state to the cache showing it. */
export async function propagationBench(agent: ConsulAgent): Promise<string> {
  const app = await startApp(agent.httpPort);
  const cachedApp = await startApp(agent.httpPort, { discovery: { cache: 'agent' } });
  const plain = observer(app.get(ConsulDiscoveryService), 'bench_prop');
  const cached = observer(cachedApp.get(ConsulDiscoveryService), 'bench_prop_cached');
  const observe = plain.observe;
  const has = (id: string) => (list: ServiceInstance[]) => list.some((i) => i.id === id);
  const lacks = (id: string) => (list: ServiceInstance[]) => !list.some((i) => i.id === id);
  try {
    await registerTtl(agent, 'bench_prop', 'prop-stable', 7100);
    await registerTtl(agent, 'bench_prop_cached', 'cached-stable', 7101);
    const ttlFailed: number[] = [];
    const deregistered: number[] = [];
    const appeared: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const id = `prop-${t}`;
      appeared.push(await observe(() => registerTtl(agent, 'bench_prop', id, 7200 + t), has(id)));
      await pause();
      ttlFailed.push(await observe(() => agent.ttl(`service:${id}`, 'fail'), lacks(id)));
      await pause();
      await observe(() => agent.ttl(`service:${id}`, 'pass'), has(id));
      await pause();
      deregistered.push(await observe(() => agent.deregister(id), lacks(id)));
      await pause();
    }
    // Back to back (about 10 changes/s or more): the rate limit now decides, by design.
    const churned: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const id = `churn-${t}`;
      churned.push(await observe(() => registerTtl(agent, 'bench_prop', id, 7300 + t), has(id)));
      churned.push(await observe(() => agent.deregister(id), lacks(id)));
    }
    // The same changes through the agent cache: one server, the leader, so no follower lag (see table 9).
    const throughCache: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const id = `cached-${t}`;
      throughCache.push(await cached.observe(() => registerTtl(agent, 'bench_prop_cached', id, 7500 + t), has(id)));
      await pause();
      throughCache.push(await cached.observe(() => agent.deregister(id), lacks(id)));
      await pause();
    }
    const row = (name: string, samples: number[]) => {
      const s = summary(samples);
      return [name, fmt(s.p50, 1), fmt(s.p99, 1), fmt(s.max, 1)];
    };
    return table(
      `2. Propagation: Consul change → cache (${TRIALS} trials each, ms, from the start of the API call)`,
      ['change', 'p50', 'p99', 'max'],
      [
        row('TTL check failed', ttlFailed),
        row('instance deregistered', deregistered),
        row('new instance passing', appeared),
        row('back-to-back changes (register, deregister, …)', churned),
        row("new instance or deregistered, through the agent cache (`discovery.cache: 'agent'`)", throughCache),
      ],
      [
        `Target: p99 under 50 ms. The other rows space changes ${SPACING_MS} ms apart; the back-to-back one does not, so the`,
        "loop's token bucket (10 requests/s, burst 10) spaces its requests: under sustained churn a change waits up to 100 ms.",
        'The agent-cache row runs on this one-server agent, where the cache reads from the leader; on a cluster its reads are',
        'stale and may come from a follower, a commit behind (table 9).',
      ],
    );
  } finally {
    plain.close();
    cached.close();
    await app.close();
    await cachedApp.close();
  }
}

/** Times changes of `service` as `discovery`'s watch sees them. */
function observer(discovery: ConsulDiscoveryService, service: string) {
  let waiter: (() => void) | undefined;
  let until: ((list: ServiceInstance[]) => boolean) | undefined;
  const subscription: Subscription = discovery.watch(service).subscribe((list) => {
    if (until?.(list)) waiter?.();
  });
  const observe = async (change: () => Promise<void>, done: (list: ServiceInstance[]) => boolean): Promise<number> => {
    const seen = new Promise<void>((resolve) => {
      waiter = resolve;
      until = done;
    });
    const started = performance.now();
    await change();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      seen,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no propagation in 5 s')), 5_000))),
    ]).finally(() => clearTimeout(timer));
    return performance.now() - started;
  };
  return { observe, close: () => subscription.unsubscribe() };
}
