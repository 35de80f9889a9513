import { Injectable, Module } from '@nestjs/common';
import { type ClientGrpc, Transport } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { ConsulDiscoveryService, ConsulHttpClient, ConsulModule, ConsulService } from '../../lib/index.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions, startHttpApp, type TestApp } from '../helpers/consul-app.js';
import { type Greeter, HELLO_PROTO } from '../helpers/consul-microservice.js';
import { eventually } from '../helpers/eventually.js';
import { type CallRecord, failureSummary, steadyLoad } from '../helpers/steady-load.js';
import { UpstreamProcess } from '../helpers/upstream-process.js';
import { report } from './report.js';

@Injectable()
class Callers {
  readonly greeter: Greeter;
  constructor(
    @ConsulService('who') readonly who: ConsulHttpClient,
    @ConsulService('greeter') grpc: ClientGrpc,
  ) {
    this.greeter = grpc.getService<Greeter>('Greeter');
  }
}

@Module({
  imports: [
    ConsulModule.forFeature([
      { service: 'who', transport: 'http', options: { timeout: '2s', retries: 2 } },
      { service: 'greeter', transport: Transport.GRPC, options: { package: 'hello', protoPath: HELLO_PROTO } },
    ]),
  ],
  providers: [Callers],
})
class CallersModule {}

const PROTOCOLS = [
  { protocol: 'http', service: 'who' },
  { protocol: 'grpc', service: 'greeter' },
] as const;
type Protocol = (typeof PROTOCOLS)[number]['protocol'];

describe('Rolling restarts under load (3 instances per protocol, each in its own process)', () => {
  let agent: ConsulAgent;
  let caller: TestApp;
  let callers: Callers;
  const instances: Record<Protocol, UpstreamProcess[]> = { http: [], grpc: [] };
  const everyProcess: UpstreamProcess[] = [];

  const start = (protocol: Protocol, service: string, name: string) => {
    const upstream = UpstreamProcess.start(agent, protocol, service, name);
    everyProcess.push(upstream);
    return upstream;
  };

  /** Waits until the catalog lists exactly `names` as passing instances of `service`. */
  const passing = (service: string, names: string[]) =>
    eventually(
      async () => {
        const entries = await agent.health(service);
        const ids = entries
          .filter((entry) => entry.Checks.every((check) => check.Status === 'passing'))
          .map((entry) => entry.Service.ID)
          .toSorted();
        return JSON.stringify(ids) === JSON.stringify(names.toSorted());
      },
      {
        timeoutMs: 20_000,
        what: `${service} to be exactly ${names.join(', ')}, all passing`,
      },
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${everyProcess.map((p) => `--- ${p.name}\n${p.log}`).join('\n')}`);
    });

  /** Counts which instance answered, by name. */
  const served = { http: new Map<string, number>(), grpc: new Map<string, number>() };
  const count = (protocol: Protocol, name: string) => served[protocol].set(name, (served[protocol].get(name) ?? 0) + 1);
  const call: Record<Protocol, () => Promise<unknown>> = {
    http: async () => count('http', (await callers.who.get<{ name: string }>('/who')).name),
    grpc: async () => count('grpc', (await firstValueFrom(callers.greeter.hello({ name: 'x' }))).message.split(':')[0]),
  };

  beforeAll(async () => {
    agent = await ConsulAgent.start();
    for (const { protocol, service } of PROTOCOLS) {
      for (let i = 1; i <= 3; i++) instances[protocol].push(start(protocol, service, `${service}-${i}`));
      await passing(
        service,
        ['1', '2', '3'].map((i) => `${service}-${i}`),
      );
    }
    caller = await startHttpApp(
      consulOptions(agent, { service: { name: 'roller' }, registration: { enabled: false } }),
      { imports: [CallersModule] },
    );
    callers = caller.app.get(Callers);
    const discovery = caller.app.get(ConsulDiscoveryService);
    for (const { service } of PROTOCOLS) {
      await eventually(async () => (await discovery.getInstances(service)).length === 3, { what: `3 ${service}` });
    }
  }, 90_000);

  afterAll(async () => {
    await caller?.app.close();
    await Promise.all(everyProcess.map((upstream) => upstream.stop('SIGKILL')));
    await agent?.stop();
  });

  beforeEach(() => {
    served.http.clear();
    served.grpc.clear();
  });

  it('restarts every instance gracefully, one at a time, at 100 calls/s per protocol: 0 failed calls', async () => {
    const loads = PROTOCOLS.map(({ protocol }) => ({
      protocol,
      load: steadyLoad({ perSecond: 100, durationMs: 30_000, call: call[protocol] }),
    }));
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const rollStartedAt = Date.now();
    const stopped: UpstreamProcess[] = [];
    // Both protocols roll at the same time, each one instance at a time.
    await Promise.all(
      PROTOCOLS.map(async ({ protocol, service }) => {
        const current = instances[protocol];
        for (let i = 0; i < current.length; i++) {
          await current[i].stop('SIGTERM');
          stopped.push(current[i]);
          current[i] = start(protocol, service, `${service}-${i + 1}-v2`);
          await passing(
            service,
            current.map((upstream) => upstream.name),
          );
        }
      }),
    );
    const rollMs = Date.now() - rollStartedAt;
    for (const { protocol, load } of loads) {
      const records = await load.done;
      const failed = records.filter((record) => record.error);
      const newServed = [...served[protocol]].filter(([name]) => name.endsWith('-v2'));
      report(`rolling-restart-graceful-${protocol}`, {
        calls: records.length,
        failed_calls: failed.length,
        roll_of_3_instances_ms: rollMs,
        served_by: JSON.stringify(Object.fromEntries(served[protocol])),
      });
      expect(failureSummary(records)).toEqual({});
      expect(records.length).toBe(3_000);
      expect(newServed).toHaveLength(3); // the traffic moved to every new instance
    }
    // Each old instance went out through the module's shutdown (Nest re-raises SIGTERM after its hooks).
    for (const upstream of stopped) expect(upstream.log).toMatch(/Deregistered service "(who|greeter)"/);
  }, 120_000);

  it('loses an instance to SIGKILL under the same load: failed calls stay inside the retry budget', async () => {
    const loads = PROTOCOLS.map(({ protocol }) => ({
      protocol,
      load: steadyLoad({ perSecond: 100, durationMs: 15_000, call: call[protocol] }),
    }));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const victims = PROTOCOLS.map(({ protocol }) => instances[protocol][0]);
    const killedAt = Date.now();
    await Promise.all(victims.map((victim) => victim.stop('SIGKILL')));
    // The killed instances stay registered (nothing deregistered them): their checks go critical.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    for (const { protocol, service } of PROTOCOLS) {
      instances[protocol][0] = start(protocol, service, `${service}-1-v3`);
    }
    for (const { protocol, service } of PROTOCOLS) {
      await passing(
        service,
        instances[protocol].map((upstream) => upstream.name),
      );
    }
    for (const { protocol, load } of loads) {
      const records = await load.done;
      const failed = records.filter((record) => record.error);
      const inFlightAtKill = (record: CallRecord) => record.at <= killedAt && record.at + record.ms >= killedAt;
      report(`sigkill-${protocol}`, {
        calls: records.length,
        in_flight_at_kill: records.filter(inFlightAtKill).length,
        failed_calls: failed.length,
        failed_calls_not_in_flight_at_kill: failed.filter((record) => !inFlightAtKill(record)).length,
        served_by: JSON.stringify(Object.fromEntries(served[protocol])),
      });
      expect(records.length).toBe(1_500);
      // Every later call is kept off the dead instance or retried elsewhere (HTTP: idempotent
      // methods on another instance; gRPC: retryPolicy on UNAVAILABLE). What may fail is a call the
      // dead instance had already accepted: its outcome is unknown, so it is not retried blindly.
      expect(failureSummary(failed.filter((record) => !inFlightAtKill(record)))).toEqual({});
    }
  }, 90_000);
});
