import { Injectable, Module } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import {
  ConsulDiscoveryService,
  type ConsulModuleOptions,
  ConsulHttpClient,
  ConsulModule,
  ConsulRegistrar,
  ConsulService,
  type ServiceInstance,
} from '../../lib/index.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { ConsulCluster } from '../helpers/consul-cluster.js';
import { eventually } from '../helpers/eventually.js';
import { HttpUpstream } from '../helpers/http-upstream.js';
import { allChecksPassing } from '../helpers/service-checks.js';
import { failureSummary, steadyLoad } from '../helpers/steady-load.js';
import { report } from './report.js';

@Injectable()
class PongCaller {
  constructor(@ConsulService('pong') readonly pong: ConsulHttpClient) {}
}

@Module({
  imports: [ConsulModule.forFeature([{ service: 'pong', transport: 'http', options: { timeout: '2s' } }])],
  providers: [PongCaller],
  exports: [PongCaller],
})
class PongCallerModule {}

/**
 * A 3-server cluster and a client agent, 2 pong instances, and an app registered on the client
 * (for the enclosing describe). One app per describe: Nest's Logger is process-wide, so the lines
 * a test reads belong to the last app created.
 */
function useClusterApp(service: string, discovery: ConsulModuleOptions['discovery'] = {}) {
  const suite = { upstreams: [] as HttpUpstream[] } as {
    cluster: ConsulCluster;
    app: TestApp;
    upstreams: HttpUpstream[];
  };
  beforeAll(async () => {
    suite.cluster = await ConsulCluster.start({ servers: 3 });
    suite.upstreams.push(await HttpUpstream.start(suite.cluster.client, 'pong', 'pong-1'));
    suite.upstreams.push(await HttpUpstream.start(suite.cluster.client, 'pong', 'pong-2'));
    suite.app = await startHttpApp(consulOptions(suite.cluster.client, { service: { name: service }, discovery }), {
      imports: [PongCallerModule],
    });
  }, 90_000);
  afterAll(async () => {
    await suite.app?.app.close();
    await Promise.all(suite.upstreams.map((upstream) => upstream.close()));
    await suite.cluster?.stop();
  });
  return suite;
}

/**
 * Kills the Raft leader (SIGKILL) while `subject` is registered, watches "pong" and calls it
 * through @ConsulService at 50 calls/s, and registers `lateInstance` while there is no leader.
 */
async function killLeaderUnderLoad(
  { cluster, app: subject, upstreams }: ReturnType<typeof useClusterApp>,
  service: string,
  lateInstance: string,
  scenario: string,
) {
  const registrar = subject.app.get(ConsulRegistrar);
  const discovery = subject.app.get(ConsulDiscoveryService);
  const { pong } = subject.app.get(PongCaller);
  await registrar.whenRegistered();
  await allChecksPassing(cluster.client, service, `${service} passing`);
  await eventually(async () => (await discovery.getInstances('pong')).length === upstreams.length, {
    what: `${upstreams.length} pong instances`,
  });
  const watchWarningsBefore = subject.logger.find('WARN', 'ConsulDiscovery').length;

  const seen: Array<{ at: number; ids: string[] }> = [];
  const subscription: Subscription = discovery
    .watch('pong')
    .subscribe((instances: ServiceInstance[]) => seen.push({ at: Date.now(), ids: instances.map((i) => i.id) }));

  // 50 calls/s for 15 s; the leader dies 3 s in.
  const load = steadyLoad({ perSecond: 50, durationMs: 15_000, call: () => pong.get('/who') });
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const leader = (await cluster.leader())!;
  expect(leader).toBeDefined();
  const killedAt = Date.now();
  await leader.stop({ signal: 'SIGKILL' });
  // An instance registered on the client agent while there is no leader: the watch must
  // deliver it once the cluster has one again.
  upstreams.push(await HttpUpstream.start(cluster.client, 'pong', lateInstance));
  // When Consul itself has it (polled directly), to tell Consul's delay from the module's.
  const inCatalog = eventually(
    async () => {
      const entries = await cluster.client.json<Array<{ Service: { ID: string } }>>('/v1/health/service/pong?stale');
      return entries.some((entry) => entry.Service.ID === lateInstance) ? Date.now() : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 20, what: `${lateInstance} in the catalog` },
  );
  const newLeader = await cluster.newLeader(leader);
  const electedAt = Date.now();
  const catalogAt = await inCatalog;
  await eventually(() => seen.some((update) => update.ids.includes(lateInstance)), {
    timeoutMs: 20_000,
    intervalMs: 20,
    what: `the watch to deliver ${lateInstance} after the election`,
  });
  const watchResumedAt = seen.find((update) => update.ids.includes(lateInstance))!.at;
  const records = await load.done;
  subscription.unsubscribe();

  const failed = records.filter((record) => record.error);
  const entry = (await newLeader.health(service))[0];
  report(scenario, {
    election_window_ms: electedAt - killedAt,
    new_instance_in_catalog_after_kill_ms: catalogAt - killedAt,
    watch_delivered_it_after_kill_ms: watchResumedAt - killedAt,
    watch_warnings: subject.logger.find('WARN', 'ConsulDiscovery').length - watchWarningsBefore,
    calls: records.length,
    failed_calls: failed.length,
    registration_kept: Boolean(entry),
  });

  expect(failureSummary(failed)).toEqual({}); // served from the watch cache: Consul is not on the call path
  expect(entry?.Service.ID).toBe(registrar.instanceId);
  expect(entry?.Checks.every((check) => check.Status === 'passing')).toBe(true);
  expect(subject.logger.find('WARN', 'ConsulRegistrar')).toEqual([]);

  // The old leader comes back (same data) and rejoins as a follower.
  await leader.launch();
  await cluster.members(4);
  expect(await cluster.leader()).toBe(newLeader);
}

describe('A 3-server Raft cluster and a client agent, the app on the client', () => {
  const suite = useClusterApp('failover_app');

  it('keeps the registration, resumes the watch and fails no call when the leader is killed', async () => {
    await killLeaderUnderLoad(suite, 'failover_app', 'pong-3', 'leader-failover');
  }, 90_000);

  it('comes back within 5 s when the client agent restarts with its state wiped', async () => {
    const { cluster, app, upstreams } = suite;
    const registrar = app.app.get(ConsulRegistrar);
    const discovery = app.app.get(ConsulDiscoveryService);
    const server = cluster.servers[0];
    const localServices = async () => Object.keys(await cluster.client.json('/v1/agent/services'));
    const appIsPassing = async () => {
      const [entry] = await server.health('failover_app');
      const inCatalog =
        entry?.Service.ID === registrar.instanceId && entry.Checks.every((check) => check.Status === 'passing');
      return inCatalog && (await localServices()).includes(registrar.instanceId!);
    };
    expect(await appIsPassing()).toBe(true);

    await cluster.client.restart({ wipe: true });
    const restartedAt = Date.now();
    // The state is gone: pong-2 (registered by the test, which does not register it again) is not there.
    expect(await localServices()).not.toContain('pong-2');
    // Default reconcileInterval (30 s): the registrar asks at once because the agent answered again.
    await eventually(appIsPassing, { timeoutMs: 5_000, intervalMs: 50, what: 'failover_app registered and passing' });
    const backMs = Date.now() - restartedAt;

    // The watch follows the restarted agent: its anti-entropy removes the instances it forgot
    // (pong-2, pong-3) from the catalog, and pong-1 is registered there again as its app would.
    await HttpUpstream.register(cluster.client, 'pong', upstreams[0]);
    await eventually(async () => (await discovery.getInstances('pong')).map((i) => i.id).join() === 'pong-1', {
      what: 'the watch to show exactly pong-1, through the restarted agent',
    });
    const watchMs = Date.now() - restartedAt;
    report('agent-state-loss', { service_and_check_back_ms: backMs, watch_resumed_ms: watchMs });
    expect(backMs).toBeLessThan(5_000);
    expect(app.logger.find('WARN', 'ConsulRegistrar')).toEqual([
      expect.stringContaining('The Consul agent no longer knows service "failover_app"'),
    ]);
  }, 60_000);
});

describe('The same cluster, read stale (discovery.consistency: "stale")', () => {
  const suite = useClusterApp('failover_stale', { consistency: 'stale' });

  it('keeps the registration, resumes the watch and fails no call when the leader is killed', async () => {
    await killLeaderUnderLoad(suite, 'failover_stale', 'pong-3', 'leader-failover-stale');
  }, 90_000);
});
