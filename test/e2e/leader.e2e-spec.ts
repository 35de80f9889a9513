import { Injectable } from '@nestjs/common';
import { firstValueFrom, filter } from 'rxjs';
import { ConsulLeaderService, LeaderOnly, OnLeadershipGranted, OnLeadershipRevoked } from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';

@Injectable()
class ReportJob {
  runs = 0;
  events: string[] = [];

  // As under @Cron('* * * * * *'): called on every instance, runs on the leader only.
  @LeaderOnly('reports')
  tick(): string {
    this.runs++;
    return 'ran';
  }

  @OnLeadershipGranted('reports')
  granted(): void {
    this.events.push('granted');
  }

  @OnLeadershipRevoked('reports')
  revoked(): void {
    this.events.push('revoked');
  }
}

describe('ConsulLeaderService and @LeaderOnly (real Consul agent)', () => {
  const suite = useConsulAgent();

  async function instance(name: string): Promise<TestApp & { job: ReportJob; leaders: ConsulLeaderService }> {
    const started = await startHttpApp(
      consulOptions(suite.agent, { service: { name: 'reporter', id: name }, locks: { prefix: 'locks/leader-e2e' } }),
      { providers: [ReportJob] },
    );
    suite.apps.push(started);
    return { ...started, job: started.app.get(ReportJob), leaders: started.app.get(ConsulLeaderService) };
  }

  it('elects one leader from boot; only it runs @LeaderOnly methods; resign and close hand over', async () => {
    const a = await instance('reporter-a');
    const b = await instance('reporter-b');
    const both = [a, b];
    const leader = await eventually(() => both.find((i) => i.leaders.isLeader('reports')), { what: 'a leader' });
    const follower = both.find((i) => i !== leader)!;
    expect(follower.leaders.isLeader('reports')).toBe(false);

    for (const i of both) i.job.tick();
    expect(leader.job.runs).toBe(1);
    expect(follower.job.runs).toBe(0);
    expect(leader.job.events).toEqual(['granted']);

    // Anyone can read who leads: the key's value.
    const seen = await eventually(() => follower.leaders.election('reports')?.leader, { what: 'leader seen' });
    expect(seen.instanceId).toBe(leader === a ? 'reporter-a' : 'reporter-b');
    expect(seen.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const firstToken = leader.leaders.election('reports')!.fencingToken!;

    const followerLeads = firstValueFrom(follower.leaders.elect('reports').leader$.pipe(filter(Boolean)));
    const resignedAt = performance.now();
    await leader.leaders.election('reports')!.resign();
    await followerLeads;
    expect(performance.now() - resignedAt).toBeLessThan(500);
    expect(leader.job.events).toEqual(['granted', 'revoked']);
    expect(follower.job.events).toEqual(['granted']);
    expect(follower.leaders.election('reports')!.fencingToken!).toBeGreaterThan(firstToken);
    for (const i of both) i.job.tick();
    expect(follower.job.runs).toBe(1);
    expect(leader.job.runs).toBe(1);

    // Electing again after resign campaigns anew; closing the leader hands over to it.
    const again = leader.leaders.elect('reports');
    expect(again.isLeader).toBe(false);
    const back = firstValueFrom(again.leader$.pipe(filter(Boolean)));
    await follower.app.close();
    await back;
    expect(follower.job.events).toEqual(['granted', 'revoked']);
  });
});
