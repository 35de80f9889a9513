import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { ConsulMetrics, type RegistrationSource } from './consul-metrics.js';
import { INSTRUMENTS } from './instrument-names.js';

class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** A MeterProvider registered globally now, with a reader the test collects from. */
function provider() {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  metrics.disable();
  metrics.setGlobalMeterProvider(meterProvider);
  const services = async () => {
    const { resourceMetrics } = await reader.collect();
    return resourceMetrics.scopeMetrics
      .flatMap((s) => s.metrics)
      .filter((m) => m.descriptor.name === INSTRUMENTS.registrationState.name)
      .flatMap((m) =>
        m.dataPoints.map(
          (p) => `${p.attributes['consul.service']}=${p.attributes['consul.registration.state']}:${p.value}`,
        ),
      );
  };
  return { meterProvider, services };
}

/** A registration whose state the gauge reads; counts the reads. */
function registration(serviceName: string): RegistrationSource & { reads: number } {
  return {
    serviceName,
    reregistrations: 0,
    reads: 0,
    get state() {
      this.reads++;
      return 'registered';
    },
  };
}

describe('ConsulMetrics, one per app', () => {
  afterEach(() => metrics.disable());

  it("binding a second app leaves the first app's instruments on its own provider", async () => {
    const one = provider();
    const a = new ConsulMetrics(['waiting', 'registered']);
    a.bind();
    const two = provider();
    const b = new ConsulMetrics(['waiting', 'registered']);
    b.bind();
    a.track(a.registrations, registration('app_a'));
    b.track(b.registrations, registration('app_b'));
    expect(await one.services()).toEqual(['app_a=waiting:0', 'app_a=registered:1']);
    expect(await two.services()).toEqual(['app_b=waiting:0', 'app_b=registered:1']);
    a.close();
    b.close();
    await Promise.all([one.meterProvider.shutdown(), two.meterProvider.shutdown()]);
  });

  it('close() takes its gauge callback off the meter and drops its sources', async () => {
    const { meterProvider, services } = provider();
    const a = new ConsulMetrics(['registered']);
    const b = new ConsulMetrics(['registered']);
    a.bind();
    b.bind();
    const source = registration('app_a');
    a.track(a.registrations, source);
    b.track(b.registrations, registration('app_b'));
    expect((await services()).toSorted()).toEqual(['app_a=registered:1', 'app_b=registered:1']);
    const reads = source.reads;
    a.close();
    await services();
    expect(source.reads).toBe(reads); // never asked again: nothing of the closed app is called
    expect(a.registrations.size).toBe(0);
    expect(a.recording).toBe(false);
    // The other app on the same provider goes on reporting.
    b.track(b.registrations, registration('app_b2'));
    const after = await services();
    expect(after).toContain('app_b2=registered:1');
    b.close();
    await meterProvider.shutdown();
  });
});
