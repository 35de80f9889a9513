import { promises as dns } from 'node:dns';
import { ConsulDiscoveryService } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { registerTtl, startApp } from './context.js';
import { fmt, rate, table } from './stats.js';

/** 1. choose() from the watch-fed cache vs one HTTP health query per call vs the tutorial's DNS A + SRV per call. */
export async function chooseBench(agent: ConsulAgent): Promise<string> {
  for (let i = 1; i <= 3; i++) await registerTtl(agent, 'bench_choose', `choose-${i}`, 7000 + i);
  const app = await startApp(agent.httpPort);
  const discovery = app.get(ConsulDiscoveryService);
  await discovery.choose('bench_choose');
  let rr = 0;
  try {
    const cached = await rate(() => discovery.choose('bench_choose'), 2_000);
    const perCallHttp = await rate(async () => {
      const res = await fetch(`${agent.address}/v1/health/service/bench_choose?passing=1`);
      const list = (await res.json()) as unknown[];
      return list[rr++ % list.length];
    }, 2_000);
    const resolver = new dns.Resolver();
    resolver.setServers([`127.0.0.1:${agent.ports.dns}`]);
    const perCallDns = await rate(async () => {
      const [a, srv] = await Promise.all([
        resolver.resolve4('bench_choose.service.consul'),
        resolver.resolveSrv('bench_choose.service.consul'),
      ]);
      return `${a[0]}:${srv[rr++ % srv.length].port}`;
    }, 2_000);
    return table(
      '1. Instance selection (3 instances, one core, sequential calls)',
      ['method', 'calls/s', 'choose() is'],
      [
        ['`choose()` from the watch-fed cache', fmt(cached), '—'],
        ['`GET /v1/health/service/:name?passing` per call', fmt(perCallHttp), `${fmt(cached / perCallHttp)}× faster`],
        ['DNS A + SRV per call (the tutorial)', fmt(perCallDns), `${fmt(cached / perCallDns)}× faster`],
      ],
      ['Targets: ≥ 1,000× both alternatives and > 5 million `choose()`/s.'],
    );
  } finally {
    await app.close();
  }
}
