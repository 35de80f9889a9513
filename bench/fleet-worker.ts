// One app process of the fleet benchmark (fleet.bench.ts): a Nest app with ConsulModule that
// watches the services named on its command line through the client agent, and reports on
// stdout, one JSON line each, when every first list is in and when it sees a change.
// argv: <agent host> <agent port> <cache: agent|none> <consistency: default|stale> <service,service,…>
import 'reflect-metadata';
import { ConsulDiscoveryService } from '../lib/index.js';
import { startApp } from './context.js';

const [host, port, cache, consistency, services] = process.argv.slice(2);
const app = await startApp(
  Number(port),
  {
    consul: { host, port: Number(port) },
    discovery: { cache: cache as 'agent' | 'none', consistency: consistency as 'default' | 'stale' },
  },
  [],
  false,
);
await app.init();
const discovery = app.get(ConsulDiscoveryService);
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const firsts = services.split(',').map(
  (service) =>
    new Promise<void>((resolve) =>
      discovery.watch(service).subscribe((list) => {
        resolve();
        // The fleet bench writes the change number into the instance's meta.
        const version = list[0]?.meta.version;
        if (version) say({ service, version: Number(version), at: performance.timeOrigin + performance.now() });
      }),
    ),
);
await Promise.all(firsts);
say({ ready: true });
// The bench ends the process by its pid; close the app (its watches) first.
process.once('SIGTERM', () => {
  void app.close().finally(() => process.exit(0));
});
