import { Injectable, Module } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import {
  ConsulDiscoveryService,
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

describe('A 3-server Raft cluster and a client agent, the app on the client', () => {
  let cluster: ConsulCluster;
  let app: TestApp;
  const upstreams: HttpUpstream[] = [];

  beforeAll(async () => {
    cluster = await ConsulCluster.start({ servers: 3 });
    upstreams.push(await HttpUpstream.start(cluster.client, 'pong', 'pong-1'));
    upstreams.push(await HttpUpstream.start(cluster.client, 'pong', 'pong-2'));
    app = await startHttpApp(consulOptions(cluster.client, { service: { name: 'failover_app' } }), {
      imports: [PongCallerModule],
    });
  }, 90_000);

  afterAll(async () => {
    await app?.app.close();
    await Promise.all(upstreams.map((upstream) => upstream.close()));
    await cluster?.stop();
  });

  it('keeps the registration, resumes the watch and fails no call when the leader is killed', async () => {
    const registrar = app.app.get(ConsulRegistrar);
    const discovery = app.app.get(ConsulDiscoveryService);
    const { pong } = app.app.get(PongCaller);
    await registrar.whenRegistered();
    await eventually(
      async () => (await cluster.client.health('failover_app'))[0]?.Checks.every((c) => c.Status === 'passing'),
      {
        what: 'failover_app passing',
      },
    );
    await eventually(async () => (await discovery.getInstances('pong')).length === 2, { what: 'two pong instances' });

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
    // A third instance, registered on the client agent while there is no leader: the watch must
    // deliver it once the cluster has one again.
    const lateUpstream = await HttpUpstream.start(cluster.client, 'pong', 'pong-3');
    upstreams.push(lateUpstream);
    // When Consul itself has pong-3 (polled directly), to tell Consul's delay from the module's.
    const inCatalog = eventually(
      async () => {
        const entries = await cluster.client.json<Array<{ Service: { ID: string } }>>('/v1/health/service/pong?stale');
        return entries.some((entry) => entry.Service.ID === 'pong-3') ? Date.now() : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20, what: 'pong-3 in the catalog' },
    );
    const newLeader = await cluster.newLeader(leader);
    const electedAt = Date.now();
    const catalogAt = await inCatalog;
    await eventually(() => seen.some((update) => update.ids.includes('pong-3')), {
      timeoutMs: 20_000,
      intervalMs: 20,
      what: 'the watch to deliver pong-3 after the election',
    });
    const watchResumedAt = seen.find((update) => update.ids.includes('pong-3'))!.at;
    const records = await load.done;
    subscription.unsubscribe();

    const failed = records.filter((record) => record.error);
    const afterElection = failed.filter((record) => record.at > electedAt);
    const entry = (await newLeader.health('failover_app'))[0];
    report('leader-failover', {
      election_window_ms: electedAt - killedAt,
      new_instance_in_catalog_after_kill_ms: catalogAt - killedAt,
      watch_delivered_it_after_kill_ms: watchResumedAt - killedAt,
      calls: records.length,
      failed_calls: failed.length,
      failed_after_election: afterElection.length,
      registration_kept: Boolean(entry),
    });

    expect(failureSummary(afterElection)).toEqual({});
    expect(failed.length).toBe(0); // served from the watch cache: Consul is not on the call path
    expect(entry?.Service.ID).toBe(registrar.instanceId);
    expect(entry?.Checks.every((check) => check.Status === 'passing')).toBe(true);
    expect(app.logger.find('WARN', 'ConsulRegistrar')).toEqual([]);

    // The old leader comes back (same data) and rejoins as a follower.
    await leader.launch();
    await cluster.members(4);
    expect(await cluster.leader()).toBe(newLeader);
  }, 90_000);

  it('comes back within 5 s when the client agent restarts with its state wiped', async () => {
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
