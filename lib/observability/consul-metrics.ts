import { createRequire } from 'node:module';
import type { OnApplicationShutdown } from '@nestjs/common';
import type {
  Attributes,
  BatchObservableResult,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  Observable,
  Tracer,
} from '@opentelemetry/api';
import { otelApiInUse } from './otel-api.js';
import { ATTR, INSTRUMENTS } from './instrument-names.js';
import { type WatchDescription, type WatchMetrics, WatchObserver } from './watch-observer.js';

/** The package's name and version: the meter's and the tracer's (the instrumentation scope). */
export const SCOPE = (() => {
  const require = createRequire(import.meta.url);
  // dist/observability/ in the package; one level deeper when the benchmarks compile lib/ beside bench/.
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      const { name, version } = require(path) as { name: string; version: string };
      if (name === 'nestjs-consul-kit') return { name, version };
    } catch {
      // not this one
    }
  }
  return { name: 'nestjs-consul-kit', version: 'unknown' };
})();

/** The registrar, as the registration gauges read it. */
export interface RegistrationSource {
  readonly serviceName: string | undefined;
  readonly state: string;
  readonly reregistrations: number;
}

/** An election, as the leadership gauge reads it. */
export interface ElectionSource {
  readonly name: string;
  readonly isLeader: boolean;
}

/** A typed client's state for the status snapshot. */
export interface ClientSource {
  readonly service: string;
  status(): { transport: string; balancer: string; ejected: string[] };
}

/** An instance as metrics and spans name it: what `observability/` needs of a discovered instance. */
export interface InstanceRef {
  readonly id: string;
  readonly address: string;
  readonly port: number;
}

const NOOP_COUNTER = { add(): void {} } as unknown as Counter;
const NOOP_HISTOGRAM = { record(): void {} } as unknown as Histogram;

/**
 * The package's metrics through `@opentelemetry/api`: a no-op until the app registers an SDK
 * (and nothing at all without the API installed). One per app, a provider of the module (as
 * `SchedulerRegistry` is for @nestjs/schedule): its live sources are that app's only, and
 * {@link close} (at the app's shutdown) takes its gauge callback off the meter, so nothing of a
 * closed app stays reachable from the process. Two apps on one MeterProvider report side by side.
 *
 * Counters are added to at the instrumentation points with attribute objects made once per
 * service, instance or watch. What has a current value (registration state, instances seen,
 * staleness, leadership) is observed at collection time from the live sources, so the hot path
 * never writes a gauge.
 *
 * The API hands out no-op meters until a MeterProvider is registered, and they stay no-ops: so
 * {@link bind} runs when each app is created (start the SDK before `NestFactory.create()`).
 */
export class ConsulMetrics implements OnApplicationShutdown {
  /** Live sources of this app: observed at collection, shown by `ConsulStatusService`. */
  readonly registrations = new Set<RegistrationSource>();
  readonly watches = new Set<WatchObserver>();
  readonly elections = new Set<ElectionSource>();
  readonly clients = new Set<ClientSource>();

  watchRequests = NOOP_COUNTER;
  watchErrors = NOOP_COUNTER;
  heartbeatFailures = NOOP_COUNTER;
  httpDuration = NOOP_HISTOGRAM;
  clientRetries = NOOP_COUNTER;
  outlierEjections = NOOP_COUNTER;
  noAvailableInstance = NOOP_COUNTER;
  configReloads = NOOP_COUNTER;
  sessionRenewalFailures = NOOP_COUNTER;
  /** Spans of the typed clients; none unless a TracerProvider was registered when the app was created. */
  tracer?: Tracer;
  /** Whether a MeterProvider was registered when the app was created: the hot paths skip their work otherwise. */
  recording = false;

  private provider?: MeterProvider;
  private unbind?: () => void;
  private readonly serviceAttributes = new Map<string, Attributes>();
  /**
   * What every watch reports to. Without a MeterProvider the counters are no-ops: skip them, and
   * the attributes they would need.
   */
  private readonly watchMetrics: WatchMetrics = {
    request: (o) => {
      if (this.recording) this.watchRequests.add(1, o.attributes);
    },
    error: (o) => {
      if (this.recording) this.watchErrors.add(1, o.attributes);
    },
    closed: (o) => this.watches.delete(o),
  };

  /**
   * @param registrationStates every state a registration can be in: the state gauge reports 1
   * for the current one and 0 for the others (passed in, so this leaf imports no registration code).
   */
  constructor(private readonly registrationStates: readonly string[] = []) {}

  /** (Re)creates the instruments on the MeterProvider registered now, if it is another one. */
  bind(): void {
    const api = otelApiInUse();
    if (!api) return;
    // Only when a TracerProvider is registered (like the meter: start the SDK before the app), so a
    // request without one makes no span object at all. Asked again each time: after trace.disable()
    // an old proxy tracer would keep the old provider.
    const tracing = api.trace.getTracerProvider();
    const none = new api.ProxyTracerProvider().getDelegate(); // the API's no-op provider
    const real = tracing instanceof api.ProxyTracerProvider ? tracing.getDelegate() !== none : tracing !== none;
    this.tracer = real ? api.trace.getTracer(SCOPE.name, SCOPE.version) : undefined;
    const provider = api.metrics.getMeterProvider();
    if (provider === this.provider) return;
    this.unbind?.();
    this.provider = provider;
    const meter = provider.getMeter(SCOPE.name, SCOPE.version);
    this.recording = meter !== api.createNoopMeter(); // the API's no-op provider hands out its one no-op meter
    const counter = (key: keyof typeof INSTRUMENTS) => meter.createCounter(INSTRUMENTS[key].name, INSTRUMENTS[key]);
    this.watchRequests = counter('watchRequests');
    this.watchErrors = counter('watchErrors');
    this.heartbeatFailures = counter('heartbeatFailures');
    this.clientRetries = counter('clientRetries');
    this.outlierEjections = counter('outlierEjections');
    this.noAvailableInstance = counter('noAvailableInstance');
    this.configReloads = counter('configReloads');
    this.sessionRenewalFailures = counter('sessionRenewalFailures');
    this.httpDuration = meter.createHistogram(INSTRUMENTS.httpDuration.name, {
      ...INSTRUMENTS.httpDuration,
      // The semantic conventions' advice for http.client.request.duration.
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
    });
    this.unbind = this.observeGauges(meter);
  }

  /** Attributes `{ consul.service }`, one object per service. */
  serviceAttrs(service: string): Attributes {
    let attrs = this.serviceAttributes.get(service);
    if (!attrs) this.serviceAttributes.set(service, (attrs = { [ATTR.service]: service }));
    return attrs;
  }

  /** Follows a blocking-query loop; the loop calls `closed()` when it stops. */
  watch(description: WatchDescription): WatchObserver {
    const observer = new WatchObserver(description, this.watchMetrics);
    this.watches.add(observer);
    return observer;
  }

  /** Adds a live source to one of the sets; returns what removes it. */
  track<T>(set: Set<T>, source: T): () => void {
    set.add(source);
    return () => set.delete(source);
  }

  /**
   * The app is closing: its gauge callback leaves the meter (a MeterProvider outlives apps, and
   * would otherwise keep calling into this one), its instruments become no-ops, its sources go.
   */
  close(): void {
    this.unbind?.();
    this.unbind = undefined;
    this.provider = undefined;
    this.tracer = undefined;
    this.recording = false;
    this.watchRequests = this.watchErrors = this.heartbeatFailures = NOOP_COUNTER;
    this.clientRetries = this.outlierEjections = this.noAvailableInstance = NOOP_COUNTER;
    this.configReloads = this.sessionRenewalFailures = NOOP_COUNTER;
    this.httpDuration = NOOP_HISTOGRAM;
    this.registrations.clear();
    this.watches.clear();
    this.elections.clear();
    this.clients.clear();
    this.serviceAttributes.clear();
  }

  onApplicationShutdown(): void {
    this.close();
  }

  private observeGauges(meter: Meter): () => void {
    const gauge = (key: keyof typeof INSTRUMENTS) =>
      meter.createObservableGauge(INSTRUMENTS[key].name, INSTRUMENTS[key]);
    const state = gauge('registrationState');
    const reregistrations = meter.createObservableCounter(
      INSTRUMENTS.reregistrations.name,
      INSTRUMENTS.reregistrations,
    );
    const instances = gauge('instances');
    const staleness = gauge('watchStaleness');
    const leading = gauge('leadership');
    const stateAttrs = new Map<string, Attributes[]>();
    const callback = (result: BatchObservableResult) => {
      const now = Date.now();
      for (const source of this.registrations) {
        const service = source.serviceName ?? '';
        let perState = stateAttrs.get(service);
        if (!perState) {
          perState = this.registrationStates.map((s) => ({ [ATTR.service]: service, [ATTR.state]: s }));
          stateAttrs.set(service, perState);
        }
        this.registrationStates.forEach((s, i) => result.observe(state, s === source.state ? 1 : 0, perState[i]));
        result.observe(reregistrations, source.reregistrations, this.serviceAttrs(service));
      }
      for (const watch of this.watches) {
        result.observe(staleness, (now - (watch.lastContact ?? watch.startedAt)) / 1000, watch.attributes);
        if (watch.instances !== undefined) result.observe(instances, watch.instances, watch.attributes);
      }
      for (const election of this.elections) {
        result.observe(leading, election.isLeader ? 1 : 0, { [ATTR.election]: election.name });
      }
    };
    const observables: Observable[] = [state, reregistrations, instances, staleness, leading];
    meter.addBatchObservableCallback(callback, observables);
    return () => meter.removeBatchObservableCallback(callback, observables);
  }
}
