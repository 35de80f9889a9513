import type { Logger } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { AgentCheckDefinition, CheckStatus } from '../consul-api/consul-api.types.js';
import { ConsulRequestError, isUnreachable } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { retryUntil } from '../common/retry.js';
import { hostPort } from '../common/host-port.js';
import type { ConsulHealthService } from '../health/consul-health.service.js';
import type { ConsulCheckType } from '../options/service.options.js';
import type { ResolvedConsulOptions, ResolvedServiceOptions } from '../core/consul-module.options.js';
import { tryParseDuration } from '../options/duration.js';
import type { ConsulCheckPulse } from '../health/check-pulse.js';
import { grpcHealthServed, type GrpcProbeContext, initialCheckStatus } from './check-probes.js';
import { resolveCheckType } from './check-type.js';
import { awaitInstanceEndpoint, currentInstanceEndpoint, type EndpointContext } from './instance-endpoint.resolver.js';
import { KeepAlive } from './keep-alive.js';
import { RegistrationStateMachine } from './registration-state.js';
import { buildServiceDefinition, checkIdOf, type InstanceEndpoint } from './service-definition.js';
import { leaveConsul } from './shutdown.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulKitUsageError } from '../common/consul-kit-usage.error.js';

/** The calls of {@link ConsulApi} a registration makes (its keep-alive's and shutdown's included). */
export type RegistrationApi = Pick<
  ConsulApi,
  'registerService' | 'deregisterService' | 'setServiceMaintenance' | 'agentService' | 'updateTtlCheck' | 'reachability'
>;

/** What every registration of one app shares (the registrar's). */
export interface RegistrationDeps {
  options: ResolvedConsulOptions;
  client: RegistrationApi;
  health: Pick<ConsulHealthService, 'check'>;
  pulse: ConsulCheckPulse;
  /** The app's metrics. */
  metrics: ConsulMetrics;
  logger: Logger;
  /** Aborted when the app shuts down: ends waits, retries, a registration in flight, timers. */
  lifetime: AbortSignal;
}

/**
 * One service of the app in Consul: the main one (`service`, the HTTP server's or the microservice's)
 * or one microservice of a hybrid app (`microservices[i]`). Each has its own state, instance id,
 * check, attempts and {@link KeepAlive}; the {@link ConsulRegistrar} runs them side by side.
 */
export class ServiceRegistration {
  readonly machine: RegistrationStateMachine;
  /** The check type, or why the options do not fit this app (for `register()` to throw, manual registration only). */
  private fit?: { checkType: ConsulCheckType } | { unfit: unknown };
  endpoint?: InstanceEndpoint;
  private keepAlive?: KeepAlive;
  /** The running attempt loop (first registration or re-registration); `deregister()` aborts it. */
  private attempts?: { loop: Promise<void>; cancel: AbortController };

  constructor(
    private readonly deps: RegistrationDeps,
    readonly service: ResolvedServiceOptions,
    /** Where the service sits in the options, for messages: `service` or `microservices[0]`. */
    readonly path: string,
    /** The HTTP server, for the main service only: a microservice has its own port and address. */
    private readonly adapterHost: HttpAdapterHost | undefined,
    /** Checks other parts of the module attached to the instance (the locks' liveness check), by id. */
    private readonly attachedChecks: ReadonlyMap<string, AgentCheckDefinition> = new Map(),
  ) {
    this.machine = new RegistrationStateMachine(deps.logger);
  }

  /** The id of this instance's health check in Consul, once registered with one. */
  get checkId(): string | undefined {
    return this.endpoint && this.endpoint.checkType !== 'none' ? checkIdOf(this.endpoint.id) : undefined;
  }

  /** A first registration is being attempted (the endpoint is known; Consul has not accepted it yet). */
  get attempting(): boolean {
    return this.machine.state === 'waiting' && this.attempts !== undefined;
  }

  get address(): string | undefined {
    return this.endpoint && hostPort(this.endpoint.address, this.endpoint.port);
  }

  /**
   * Picks the check type and starts the gauges. With `strict` (automatic registration) a check that
   * does not fit the app rejects; otherwise the reason waits for `registerNow()`.
   */
  async prepare(strict: boolean): Promise<void> {
    const machine = this.machine;
    const untrack = this.deps.metrics.track(this.deps.metrics.registrations, {
      serviceName: this.service.name,
      get state() {
        return machine.state;
      },
      get reregistrations() {
        return machine.reregistrations;
      },
    });
    this.deps.lifetime.addEventListener('abort', untrack, { once: true });
    const fit = resolveCheckType(this.service, Boolean(this.adapterHost?.httpAdapter), this.path);
    if (strict) {
      this.fit = { checkType: await fit };
    } else {
      // An app that registers by hand (or never: a worker that only discovers or reads config)
      // hears about a check that does not fit when it calls register(), not at bootstrap.
      this.fit = await fit.then(
        (checkType) => ({ checkType }),
        (unfit: unknown) => ({ unfit }),
      );
    }
  }

  /** `ConsulRegistrar.register()`: now, once, with the current address and port; does not retry. */
  async registerNow(): Promise<void> {
    if (this.fit && 'unfit' in this.fit) throw this.fit.unfit;
    if (!this.fit) {
      throw new ConsulKitUsageError(
        'ConsulRegistrar.register()',
        'it works once the app has bootstrapped: call it after app.init() or app.listen()',
      );
    }
    const endpoint = await currentInstanceEndpoint(this.endpointContext(this.fit.checkType));
    if (!endpoint) {
      throw new ConsulKitUsageError(
        'ConsulRegistrar.register()',
        `the port of service "${this.service.name}" is unknown: call it after app.listen(), or set ${this.path}.port`,
      );
    }
    this.endpoint = endpoint;
    await this.registerOnce(this.deps.lifetime);
  }

  /** Registers the definition again as it is now (a check was attached), if registered. */
  async refresh(): Promise<void> {
    if (this.machine.isRegistered && this.endpoint) {
      await this.deps.client.registerService(this.definition(this.endpoint), { signal: this.deps.lifetime });
    }
  }

  async deregister(): Promise<void> {
    this.attempts?.cancel.abort();
    this.keepAlive?.stop();
    if (!this.endpoint) return;
    await this.deps.client.deregisterService(this.endpoint.id);
    this.machine.to('deregistered', 'log', `Deregistered ${this.describe()}`);
  }

  async setMaintenance(enable: boolean, reason?: string): Promise<void> {
    if (!this.endpoint) {
      throw new ConsulKitUsageError(
        'ConsulRegistrar.setMaintenance()',
        `service "${this.service.name}" is not registered yet: call it once whenRegistered() has resolved`,
      );
    }
    await this.deps.client.setServiceMaintenance(this.endpoint.id, enable, reason);
    this.deps.logger.log(
      `${enable ? 'Entered' : 'Left'} maintenance: ${this.describe()}${reason ? ` (${reason})` : ''}`,
    );
  }

  reconcileNow(): void {
    this.keepAlive?.reconcileNow();
  }

  /** Stops the keep-alive and lets an attempt in flight end (the app's lifetime has been aborted). */
  async stop(): Promise<void> {
    this.keepAlive?.stop();
    await this.attempts?.loop;
  }

  /**
   * Shutdown, once {@link stop} has returned: maintenance, drain, deregister, within one
   * `consul.timeout` (plus the drain delay). `inFlight`: a registration was being attempted. Never throws.
   */
  async leave(inFlight: boolean): Promise<void> {
    const { options, logger } = this.deps;
    const { deregisterCriticalServiceAfter } = this.service.check;
    if (!this.machine.isRegistered || !this.endpoint) {
      const pending = options.registration.enabled && this.machine.state !== 'deregistered';
      this.machine.to(
        'stopped',
        'debug',
        inFlight
          ? `Shut down before Consul answered the registration of ${this.describe()}: cancelled it. If the agent ` +
              `got it, Consul removes it once its check has been critical for ${deregisterCriticalServiceAfter}`
          : pending
            ? `Shut down before ${this.describe()} was registered`
            : 'Shut down',
      );
      return;
    }
    const { id } = this.endpoint;
    const { drainDelayMs } = options.registration;
    this.machine.to(
      'leaving',
      'debug',
      `Taking ${id} out of Consul: maintenance, ${drainDelayMs} ms drain, deregistration`,
    );
    const failure = await leaveConsul(
      this.deps.client,
      id,
      { timeoutMs: options.consul.timeoutMs, drainDelayMs },
      {
        draining: () => logger.log(`Draining ${id} for ${drainDelayMs} ms before deregistering`),
        maintenanceFailed: (reason) => logger.warn(`Could not put ${id} in maintenance before shutdown: ${reason}`),
      },
    );
    if (failure === undefined) {
      this.machine.to('deregistered', 'log', `Deregistered ${this.describe()}`);
    } else {
      this.machine.to(
        'stopped',
        'warn',
        `Could not deregister ${id}: ${failure}. Consul removes it once its check has been critical for ` +
          `${deregisterCriticalServiceAfter} (${this.path}.check.deregisterCriticalServiceAfter).`,
      );
    }
  }

  async registerWhenReachable(): Promise<void> {
    const checkType = (this.fit as { checkType: ConsulCheckType }).checkType;
    this.machine.to('waiting', 'debug', `Waiting for ${this.describe()} to be reachable before registering it`);
    let endpoint: InstanceEndpoint | undefined;
    try {
      endpoint = await awaitInstanceEndpoint(this.endpointContext(checkType), this.deps.lifetime);
    } catch (error) {
      this.deps.logger.error(`Not registering service "${this.service.name}": ${(error as Error).message}`);
      return;
    }
    if (!endpoint || !(await grpcHealthServed(endpoint, this.probeContext()))) return;
    this.endpoint = endpoint;
    this.deps.logger.log(
      `Registering ${this.describe()} (address: ${endpoint.addressChosenBy}; ${this.checkSummary()})`,
    );
    this.registerWithRetry();
  }

  /** Retries with jittered backoff until registered, deregistered by hand or shut down; one loop at a time. */
  private registerWithRetry(): void {
    if (this.attempts) return;
    const cancel = new AbortController();
    const signal = AbortSignal.any([this.deps.lifetime, cancel.signal]);
    const loop = (async () => {
      const { initialDelayMs, maxDelayMs, factor } = this.deps.options.registration.retry;
      await retryUntil(async () => (this.machine.isRegistered ? undefined : this.registerOnce(signal)), {
        backoff: new Backoff(initialDelayMs, maxDelayMs, factor),
        signal,
        onFailure: (error) => this.reportFailure(error),
        wake: this.deps.client.reachability.onReconnect,
      });
    })().finally(() => (this.attempts = undefined));
    this.attempts = { loop, cancel };
  }

  private async registerOnce(signal: AbortSignal): Promise<void> {
    const endpoint = this.endpoint!;
    const status = await initialCheckStatus(endpoint, this.deps.health, this.deps.options.consul.timeoutMs, signal, {
      grpcTls: this.deps.options.connect.native,
    });
    if (signal.aborted) return;
    await this.deps.client.registerService(this.definition(endpoint, status), { signal });
    const check =
      endpoint.checkType === 'none' ? 'no check' : [`${endpoint.checkType} check`, status].filter(Boolean).join(', ');
    if (!this.machine.to('registered', 'log', `Registered ${this.describe()} (${check})`)) return;
    this.startKeepAlive(() =>
      // Built again: a check attached since then must not be dropped.
      this.deps.client
        .registerService(this.definition(endpoint, status), { signal: this.deps.lifetime })
        .catch((error: unknown) => {
          this.deps.logger.debug(
            `Could not sync the first check result of ${this.describe()}: ${(error as Error).message}`,
          );
        }),
    );
  }

  private definition(endpoint: InstanceEndpoint, status?: CheckStatus) {
    return buildServiceDefinition(this.service, endpoint, status, [...this.attachedChecks.values()], {
      connectNative: this.deps.options.connect.native,
    });
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
    if (this.deps.lifetime.aborted) return;
    const endpoint = this.endpoint!;
    const { check } = this.service;
    const { client, health, pulse, metrics, logger, options } = this.deps;
    const polled = endpoint.checkType === 'http' || endpoint.checkType === 'grpc';
    this.keepAlive = new KeepAlive(
      { client, health, pulse, metrics, logger },
      endpoint,
      {
        reconcileIntervalMs: options.registration.reconcileIntervalMs,
        retry: options.registration.retry,
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

  private probeContext(): GrpcProbeContext {
    const { service, path, deps } = this;
    return {
      service: service.name,
      path,
      timeoutMs: deps.options.consul.timeoutMs,
      logger: deps.logger,
      signal: deps.lifetime,
      tls: deps.options.connect.native,
    };
  }

  private endpointContext(checkType: ConsulCheckType): EndpointContext {
    return {
      options: this.deps.options,
      service: this.service,
      adapterHost: this.adapterHost,
      checkType,
      logger: this.deps.logger,
    };
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

  describe(): string {
    const e = this.endpoint;
    return e
      ? `service "${this.service.name}" (id ${e.id}) at ${e.address}:${e.port}`
      : `service "${this.service.name}"`;
  }
}
