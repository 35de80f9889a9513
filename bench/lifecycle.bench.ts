import { ConsulRegistrar } from '../lib/index.js';
import type { ConsulAgent } from '../test/helpers/consul-agent.js';
import { startApp } from './context.js';
import { fmt, summary, table } from './stats.js';

const TRIALS = 20;

/** 7. Time registration adds to start-up, and time app.close() spends deregistering. */
export async function lifecycleBench(agent: ConsulAgent): Promise<string> {
  const listenPlain: number[] = [];
  const listenRegistered: number[] = [];
  const closePlain: number[] = [];
  const closeRegistered: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    for (const registered of [false, true]) {
      const app = await startApp(
        agent.httpPort,
        { service: { name: `bench_life_${t}`, address: '127.0.0.1' }, registration: { enabled: registered } },
        [],
        false,
      );
      await app.init();
      const started = performance.now();
      await app.listen(0, '127.0.0.1');
      if (registered) await app.get(ConsulRegistrar).whenRegistered();
      (registered ? listenRegistered : listenPlain).push(performance.now() - started);
      const closing = performance.now();
      await app.close();
      (registered ? closeRegistered : closePlain).push(performance.now() - closing);
    }
  }
  const added = (a: number[], b: number[]) => summary(a).p50 - summary(b).p50;
  return table(
    `7. Lifecycle cost (${TRIALS} apps each, ms, median)`,
    ['step', 'without Consul', 'with registration', 'added'],
    [
      [
        '`app.listen()` until registered',
        fmt(summary(listenPlain).p50, 1),
        fmt(summary(listenRegistered).p50, 1),
        fmt(added(listenRegistered, listenPlain), 1),
      ],
      [
        '`app.close()` (maintenance + deregister)',
        fmt(summary(closePlain).p50, 1),
        fmt(summary(closeRegistered).p50, 1),
        fmt(added(closeRegistered, closePlain), 1),
      ],
    ],
    ['Targets: under 20 ms added to start-up, under 50 ms to shutdown (drainDelay 0).'],
  );
}
