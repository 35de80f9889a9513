import { type BeforeApplicationShutdown, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ConsulApi } from '../consul-api/consul-api.js';
import type { AgentCheckDefinition, CheckStatus } from '../consul-api/consul-api.types.js';
import { ConsulRequestError, isUnreachable } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { hostPort } from '../common/host-port.js';
import { sleep } from '../common/sleep.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import { ConsulHealthService } from '../health/consul-health.service.js';
import type { ConsulCheckType } from '../options/service.options.js';
import type { ResolvedConsulOptions, ResolvedServiceOptions } from '../core/consul-module.options.js';
import { tryParseDuration } from '../options/duration.js';
import { ConsulCheckPulse } from './check-pulse.js';
import { resolveCheckType } from './check-type.js';
import { ConsulUnavailableError } from './consul-unavailable.error.js';
import { probeGrpcHealth } from './grpc-health.probe.js';
import { awaitInstanceEndpoint, currentInstanceEndpoint, type EndpointContext } from './instance-endpoint.resolver.js';
import { KeepAlive } from './keep-alive.js';
import { acceptsConnections } from './port-waiter.js';
import { RegistrationStateMachine } from './registration-state.js';
import { buildServiceDefinition, checkIdOf, type InstanceEndpoint } from './service-definition.js';
import { leaveConsul } from './shutdown.js';
import { checkStatusOf } from './ttl-heartbeat.js';
import { consulMetrics } from '../observability/consul-metrics.js';
import type { RegistrationState } from './registration-state.js';

/**
 * Registers this app in Consul once it is really reachable, keeps it registered ({@link KeepAlive}:
 * reconcile, TTL heartbeat, re-registration when the agent forgets it) and takes it out on shutdown
 * ({@link leaveConsul}: maintenance, drain delay, deregistration). Where it stands is one
 * {@link RegistrationStateMachine}.
 *
 * Inject it for manual control (`registration.enabled: false`).
 */
export class ConsulRegistrar implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.registrar);
  private readonly machine = new RegistrationStateMachine(this.logger);
  /** Aborted when the app shuts down: ends waits, retries, a registration in flight, timers. */
  private readonly lifetime = new AbortController();
  /** The check type, or why the options do not fit this app (for `register()` to throw, manual registration only). */
  private fit?: { checkType: ConsulCheckType } | { unfit: unknown };
  private endpoint?: InstanceEndpoint;
  private keepAlive?: KeepAlive;
  /** The running attempt loop (first registration or re-registration); `deregister()` aborts it. */
  private attempts?: { loop: Promise<void>; cancel: AbortController };
  /** Checks other parts of the module attached to the instance (the locks' liveness check), by id. */
  private readonly attachedChecks = new Map<string, AgentCheckDefinition>();

  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly client: ConsulApi,
    private readonly health: ConsulHealthService,
    private readonly adapterHost: HttpAdapterHost,
    private readonly pulse: ConsulCheckPulse,
  ) {}

  /** The registered instance id, once the app's port is known. */
  get instanceId(): string | undefined {
    return this.endpoint?.id;
  }

  /** The id of this instance's health check in Consul, once registered with one (sessions tie locks to it). */
  get checkId(): string | undefined {
    return this.endpoint && this.endpoint.checkType !== 'none' ? checkIdOf(this.endpoint.id) : undefined;
  }

  /** The registered address and port, once known. */
  get instanceAddress(): string | undefined {
    return this.endpoint && hostPort(this.endpoint.address, this.endpoint.port);
  }

  /** Where this instance stands with Consul (see {@link RegistrationState}), and since when. */
  get state(): { service?: string; state: RegistrationState; since: Date; reregistrations: number } {
    const { state, since, reregistrations } = this.machine;
    return { service: this.options.service?.name, state, since, reregistrations };
  }

  /** Whether Consul has (as far as we last saw) this instance registered. */
  get isRegistered(): boolean {
    return this.machine.isRegistered;
  }

  /**
   * Resolves once the instance is registered (at once if it already is). With `registration.enabled:
   * false` that is only after your own `register()`: until then it does not resolve.
   */
  whenRegistered(): Promise<void> {
    return this.machine.whenRegistered();
  }

  /**
   * Adds a check to this instance's registration, now (one re-registration, if it is registered) and
   * in every later one: a re-registration replaces the agent's checks with the definition's, so a
   * check registered on the side would be dropped by the next one. The agent keeps the status of
   * checks it already has.
   */
  async attachCheck(check: AgentCheckDefinition & { CheckID: string }): Promise<void> {
    this.attachedChecks.set(check.CheckID, check);
    if (this.machine.isRegistered && this.endpoint) {
      await this.client.registerService(this.definition(this.endpoint), { signal: this.lifetime.signal });
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.service) {
      // Nothing to register: an app that only discovers or reads configuration.
      if (this.options.registration.failFast) await this.preflight();
      return;
    }
    const machine = this.machine;
    const untrack = consulMetrics.track(consulMetrics.registrations, {
      serviceName: this.options.service.name,
      get state() {
        return machine.state;
      },
      get reregistrations() {
        return machine.reregistrations;
      },
    });
    this.lifetime.signal.addEventListener('abort', untrack, { once: true });
    const fit = resolveCheckType(this.options.service, Boolean(this.adapterHost.httpAdapter));
    if (this.options.registration.enabled) {
      this.fit = { checkType: await fit };
    } else {
      // An app that registers by hand (or never: a worker that only discovers or reads config)
      // hears about a check that does not fit when it calls register(), not at bootstrap.
      this.fit = await fit.then(
        (checkType) => ({ checkType }),
        (unfit: unknown) => ({ unfit }),
      );
    }
    if (this.options.registration.failFast) await this.preflight();
    // An agent that answers again after an outage may have restarted without its state: ask it
    // now rather than at the next reconcile tick (registration.reconcileInterval, 30 s by default).
    const stopListening = this.client.reachability.onReconnect(() => this.keepAlive?.reconcileNow());
    this.lifetime.signal.addEventListener('abort', stopListening, { once: true });
    if (this.options.registration.enabled) void this.registerWhenReachable();
  }

  /**
   * Registers now, once, with the current address and port (the HTTP server's if it listens,
   * else `service.port`). Rejects with the reason if Consul refuses; does not retry.
   */
  async register(): Promise<void> {
    if (!this.options.service) {
      throw new Error(
        'ConsulRegistrar.register(): there is no service to register: add service: { name } to the options',
      );
    }
    if (this.fit && 'unfit' in this.fit) throw this.fit.unfit;
    if (!this.fit) {
      throw new Error(
        'ConsulRegistrar.register() works once the app has bootstrapped: call it after app.init() or app.listen()',
      );
    }
    const endpoint = await currentInstanceEndpoint(this.endpointContext(this.fit.checkType));
    if (!endpoint) {
      throw new Error(
        `ConsulRegistrar.register(): the port of service "${this.service.name}" is unknown: ` +
          'call it after app.listen(), or set service.port',
      );
    }
    this.endpoint = endpoint;
    await this.registerOnce(this.lifetime.signal);
  }

  /** Removes this instance from Consul and stops the heartbeat, the reconcile loop and any retries. */
  async deregister(): Promise<void> {
    this.attempts?.cancel.abort();
    this.keepAlive?.stop();
    if (!this.endpoint) return;
    await this.client.deregisterService(this.endpoint.id);
    this.machine.to('deregistered', 'log', `Deregistered ${this.describe()}`);
  }

  /** Puts this instance in (or out of) maintenance: discovery stops (or resumes) returning it. */
  async setMaintenance(enable: boolean, reason?: string): Promise<void> {
    if (!this.endpoint) throw new Error('ConsulRegistrar.setMaintenance(): this instance is not registered yet');
    await this.client.setServiceMaintenance(this.endpoint.id, enable, reason);
    this.logger.log(`${enable ? 'Entered' : 'Left'} maintenance: ${this.describe()}${reason ? ` (${reason})` : ''}`);
  }

  /**
   * While the server still answers: maintenance, drain, deregister, all within one `consul.timeout`
   * (plus the drain delay). A registration still in flight is cancelled, not awaited. Never throws.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const inFlight = this.machine.state === 'waiting' && this.attempts !== undefined;
    this.lifetime.abort();
    this.keepAlive?.stop();
    await this.attempts?.loop;
    if (!this.machine.isRegistered || !this.endpoint) {
      const pending =
        this.options.service && this.options.registration.enabled && this.machine.state !== 'deregistered';
      this.machine.to(
        'stopped',
        'debug',
        inFlight
          ? `Shut down before Consul answered the registration of ${this.describe()}: cancelled it. If the agent ` +
              `got it, Consul removes it once its check has been critical for ${this.service.check.deregisterCriticalServiceAfter}`
          : pending
            ? `Shut down before ${this.describe()} was registered`
            : 'Shut down',
      );
      return;
    }
    const { id } = this.endpoint;
    const { drainDelayMs } = this.options.registration;
    this.machine.to(
      'leaving',
      'debug',
      `Taking ${id} out of Consul: maintenance, ${drainDelayMs} ms drain, deregistration`,
    );
    const failure = await leaveConsul(
      this.client,
      id,
      { timeoutMs: this.options.consul.timeoutMs, drainDelayMs },
      {
        draining: () => this.logger.log(`Draining ${id} for ${drainDelayMs} ms before deregistering`),
        maintenanceFailed: (reason) =>
          this.logger.warn(`Could not put ${id} in maintenance before shutdown: ${reason}`),
      },
    );
    if (failure === undefined) {
      this.machine.to('deregistered', 'log', `Deregistered ${this.describe()}`);
    } else {
      this.machine.to(
        'stopped',
        'warn',
        `Could not deregister ${id}: ${failure}. Consul removes it once its check has been critical for ` +
          `${this.service.check.deregisterCriticalServiceAfter} (service.check.deregisterCriticalServiceAfter).`,
      );
    }
  }

  /** failFast: Consul must answer, have a leader and accept the token, or bootstrap fails saying why (and only that). */
  private async preflight(): Promise<void> {
    try {
      // quiet: no "Retrying in the background" warning, the bootstrap is about to fail.
      const leader = await this.client.leader(undefined, { quiet: true });
      if (!leader) throw new ConsulUnavailableError(this.client.address, 'the cluster has no leader');
      await this.client.verifyToken({ quiet: true });
    } catch (error) {
      if (!(error instanceof ConsulRequestError)) throw error;
      const cause = error.forbidden ? `the ACL token in consul.token was refused (${error.reason})` : error.reason;
      throw new ConsulUnavailableError(this.client.address, cause);
    }
  }

  private async registerWhenReachable(): Promise<void> {
    const checkType = (this.fit as { checkType: ConsulCheckType }).checkType;
    this.machine.to('waiting', 'debug', `Waiting for ${this.describe()} to be reachable before registering it`);
    let endpoint: InstanceEndpoint | undefined;
    try {
      endpoint = await awaitInstanceEndpoint(this.endpointContext(checkType), this.lifetime.signal);
    } catch (error) {
      this.logger.error(`Not registering service "${this.service.name}": ${(error as Error).message}`);
      return;
    }
    if (!endpoint || !(await this.grpcHealthServed(endpoint))) return;
    this.endpoint = endpoint;
    this.logger.log(`Registering ${this.describe()} (address: ${endpoint.addressChosenBy}; ${this.checkSummary()})`);
    this.registerWithRetry();
  }

  /** Retries with jittered backoff until registered, deregistered by hand or shut down; one loop at a time. */
  private registerWithRetry(): void {
    if (this.attempts) return;
    const cancel = new AbortController();
    const signal = AbortSignal.any([this.lifetime.signal, cancel.signal]);
    const loop = (async () => {
      const { initialDelayMs, maxDelayMs, factor } = this.options.registration.retry;
      const backoff = new Backoff(initialDelayMs, maxDelayMs, factor);
      while (!signal.aborted && !this.machine.isRegistered) {
        try {
          await this.registerOnce(signal);
          return;
        } catch (error) {
          if (signal.aborted) return;
          this.reportFailure(error);
          if (!(await sleep(backoff.next(), signal, this.client.reachability.onReconnect))) return;
        }
      }
    })().finally(() => (this.attempts = undefined));
    this.attempts = { loop, cancel };
  }

  private async registerOnce(signal: AbortSignal): Promise<void> {
    const endpoint = this.endpoint!;
    const status = await this.initialStatus(endpoint, signal);
    if (signal.aborted) return;
    await this.client.registerService(this.definition(endpoint, status), { signal });
    const check =
      endpoint.checkType === 'none' ? 'no check' : [`${endpoint.checkType} check`, status].filter(Boolean).join(', ');
    if (!this.machine.to('registered', 'log', `Registered ${this.describe()} (${check})`)) return;
    this.startKeepAlive(() =>
      // Built again: a check attached since then must not be dropped.
      this.client
        .registerService(this.definition(endpoint, status), { signal: this.lifetime.signal })
        .catch((error: unknown) => {
          this.logger.debug(`Could not sync the first check result of ${this.describe()}: ${(error as Error).message}`);
        }),
    );
  }

  private definition(endpoint: InstanceEndpoint, status?: CheckStatus) {
    return buildServiceDefinition(this.service, endpoint, status, [...this.attachedChecks.values()]);
  }

  /**
   * The check's status until Consul first runs it (after a random stagger of up to one interval):
   * the app as the registrar finds it now, so a healthy instance is discoverable at once and a failing
   * one is never passing. `http`: the Terminus indicators; `tcp`: the port accepted a connection (or the
   * HTTP server listens); `grpc`: the gRPC health service said SERVING. `ttl`: none (critical): the first
   * heartbeat, sent right after registration, sets it with the indicators' output.
   */
  private async initialStatus(endpoint: InstanceEndpoint, signal: AbortSignal): Promise<CheckStatus | undefined> {
    switch (endpoint.checkType) {
      case 'ttl':
      case 'none':
        return undefined;
      case 'http': {
        // A slow indicator delays nothing past consul.timeout: then it is critical until Consul asks.
        const done = new AbortController();
        const timeout = sleep(this.options.consul.timeoutMs, AbortSignal.any([signal, done.signal]));
        try {
          return await Promise.race([this.health.check().then(checkStatusOf), timeout.then(() => 'critical' as const)]);
        } finally {
          done.abort();
        }
      }
      case 'tcp':
        // The first time, awaitInstanceEndpoint has just seen the port accept a connection; again after
        // the agent lost us, ask once more.
        return (await acceptsConnections(endpoint.address, endpoint.port)) ? 'passing' : 'critical';
      case 'grpc':
        return (await probeGrpcHealth(this.grpcTarget(endpoint), this.options.consul.timeoutMs)) === 'serving'
          ? 'passing'
          : 'critical';
    }
  }

  private reportFailure(error: unknown): void {
    const name = this.service.name;
    if (isUnreachable(error)) {
      // The client has warned once for the whole app; this is the registrar's detail.
      this.machine.to(
        'unreachable',
        'debug',
        `${(error as Error).message}; registering "${name}" as soon as it is back`,
      );
    } else if (error instanceof ConsulRequestError && error.forbidden) {
      this.machine.to(
        'failing',
        'error',
        `${error.message}. Set consul.token to an ACL token with service:write on "${name}"; retrying meanwhile`,
      );
    } else {
      this.machine.to('failing', 'error', `${(error as Error).message}; retrying`);
    }
  }

  private startKeepAlive(resync: () => Promise<void>): void {
    this.keepAlive?.stop();
    if (this.lifetime.signal.aborted) return;
    const endpoint = this.endpoint!;
    const { check } = this.service;
    const polled = endpoint.checkType === 'http' || endpoint.checkType === 'grpc';
    this.keepAlive = new KeepAlive(
      { client: this.client, health: this.health, pulse: this.pulse, logger: this.logger },
      endpoint,
      {
        reconcileIntervalMs: this.options.registration.reconcileIntervalMs,
        retry: this.options.registration.retry,
        checkIntervalMs: polled ? tryParseDuration(check.interval) : undefined,
        pollIntervalMs: polled || endpoint.checkType === 'tcp' ? tryParseDuration(check.interval) : undefined,
        ttlMs: check.ttlMs,
      },
      {
        confirmed: () => {
          const wasOutOfReach = this.machine.state === 'out-of-reach';
          this.machine.to(
            'registered',
            wasOutOfReach ? 'debug' : 'log',
            `Consul is reachable again and still has ${this.describe()}`,
          );
        },
        unconfirmed: (error, retryInMs) => {
          const message = `${(error as Error).message}; asking again in ${retryInMs} ms whether it still has ${this.describe()}`;
          if (isUnreachable(error)) this.machine.to('out-of-reach', 'debug', message);
          else this.machine.to('unconfirmed', 'warn', message);
        },
        forgotten: () => {
          if (
            !this.machine.to(
              'lost',
              'warn',
              `The Consul agent no longer knows ${this.describe()}; registering it again`,
            )
          ) {
            return;
          }
          this.registerWithRetry();
        },
        firstCheckRan: () => void resync(),
      },
    );
    this.keepAlive.start();
  }

  /** For `grpc` checks: waits until the server answers gRPC and refuses to register one that serves no health service. */
  private async grpcHealthServed(endpoint: InstanceEndpoint): Promise<boolean> {
    if (endpoint.checkType !== 'grpc') return true;
    const target = this.grpcTarget(endpoint);
    const backoff = new Backoff(100, 2_000);
    while (!this.lifetime.signal.aborted) {
      const result = await probeGrpcHealth(target, this.options.consul.timeoutMs);
      if (result === 'unimplemented') {
        this.logger.error(
          `Not registering service "${this.service.name}": service.check.type is "grpc" but the gRPC server at ${target} ` +
            'does not serve grpc.health.v1.Health. Add it to the microservice options with withGrpcHealth({ package, protoPath, url }).',
        );
        return false;
      }
      if (result !== 'unreachable') return true;
      await sleep(backoff.next(), this.lifetime.signal);
    }
    return false;
  }

  private grpcTarget(endpoint: InstanceEndpoint): string {
    return hostPort(endpoint.address, endpoint.port);
  }

  private endpointContext(checkType: ConsulCheckType): EndpointContext {
    return {
      options: this.options,
      service: this.service,
      adapterHost: this.adapterHost,
      checkType,
      logger: this.logger,
    };
  }

  /** The app's service; only code that runs once there is one (an endpoint, a registration) reads it. */
  private get service(): ResolvedServiceOptions {
    return this.options.service!;
  }

  /** The check as Consul will run it, for the `Registering …` line. */
  private checkSummary(): string {
    const { checkType } = this.endpoint!;
    const { check } = this.service;
    if (checkType === 'none') return 'no check';
    if (checkType === 'ttl') return `ttl check, heartbeat within ${check.ttlMs} ms`;
    const where = checkType === 'http' ? ` on ${check.path}` : '';
    return `${checkType} check${where} every ${check.interval}`;
  }

  private describe(): string {
    const e = this.endpoint;
    return e
      ? `service "${this.service.name}" (id ${e.id}) at ${e.address}:${e.port}`
      : `service "${this.service.name}"`;
  }
}
