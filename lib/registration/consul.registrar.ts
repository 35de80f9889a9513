import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ConsulApi } from '../consul-api/consul-api.js';
import { ConsulRequestError, isUnreachable } from '../consul-api/consul-request.error.js';
import { Backoff } from '../common/backoff.js';
import { sleep } from '../common/sleep.js';
import { StateLog } from '../common/state-log.js';
import { CONSUL_RESOLVED_OPTIONS, LOG_CONTEXT } from '../consul.constants.js';
import { ConsulHealthService } from '../health/consul-health.service.js';
import type { ConsulCheckType } from '../options/service.options.js';
import type { ResolvedConsulOptions, ResolvedServiceOptions } from '../core/consul-module.options.js';
import { resolveCheckType } from './check-type.js';
import { ConsulUnavailableError } from './consul-unavailable.error.js';
import { probeGrpcHealth } from './grpc-health.probe.js';
import { awaitInstanceEndpoint, currentInstanceEndpoint, type EndpointContext } from './instance-endpoint.resolver.js';
import { buildServiceDefinition, checkIdOf, type InstanceEndpoint } from './service-definition.js';
import { TtlHeartbeat } from './ttl-heartbeat.js';

type RegistrationState = 'waiting' | 'registered' | 'failing' | 'unreachable' | 'lost' | 'deregistered';

/**
 * Registers this app in Consul once it is really reachable, keeps it registered (TTL
 * heartbeat, periodic reconcile, re-registration when the agent forgets it) and takes it
 * out on shutdown: maintenance first, a drain delay, then deregistration.
 *
 * Inject it for manual control (`registration.enabled: false`).
 */
@Injectable()
export class ConsulRegistrar implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.registrar);
  private readonly states = new StateLog<RegistrationState>(this.logger);
  /** Aborted when the app shuts down: ends waits, retries and timers. */
  private readonly lifetime = new AbortController();
  private checkType?: ConsulCheckType;
  /** Why the options do not fit this app, for `register()` to throw (manual registration only). */
  private unfit?: unknown;
  private endpoint?: InstanceEndpoint;
  private registered = false;
  private registering?: Promise<boolean>;
  private reconcileTimer?: NodeJS.Timeout;
  private heartbeat?: TtlHeartbeat;
  private readonly waiters: Array<() => void> = [];
  private stopReconnectListener?: () => void;

  constructor(
    @Inject(CONSUL_RESOLVED_OPTIONS) private readonly options: ResolvedConsulOptions,
    private readonly client: ConsulApi,
    private readonly health: ConsulHealthService,
    private readonly adapterHost: HttpAdapterHost,
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
    return this.endpoint && `${this.endpoint.address}:${this.endpoint.port}`;
  }

  /** Whether Consul has (as far as we last saw) this instance registered. */
  get isRegistered(): boolean {
    return this.registered;
  }

  /** Resolves once the instance is registered (at once if it already is). */
  whenRegistered(): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.service) {
      // Nothing to register: an app that only discovers or reads configuration.
      if (this.options.registration.failFast) await this.preflight();
      return;
    }
    // An agent that answers again after an outage may have restarted without its state: ask it
    // now rather than at the next reconcile tick (registration.reconcileInterval, 30 s by default).
    this.stopReconnectListener = this.client.reachability.onReconnect(() => this.reconcileNow());
    const fit = resolveCheckType(this.options.service, Boolean(this.adapterHost.httpAdapter));
    if (this.options.registration.enabled) {
      this.checkType = await fit;
    } else {
      // An app that registers by hand (or never: a worker that only discovers or reads config)
      // hears about a check that does not fit when it calls register(), not at bootstrap.
      this.checkType = await fit.catch((error: unknown) => {
        this.unfit = error;
        return undefined;
      });
    }
    if (this.options.registration.failFast) await this.preflight();
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
    if (this.unfit) throw this.unfit;
    if (!this.checkType) {
      throw new Error(
        'ConsulRegistrar.register() works once the app has bootstrapped: call it after app.init() or app.listen()',
      );
    }
    const endpoint = await currentInstanceEndpoint(this.endpointContext());
    if (!endpoint) {
      throw new Error(
        `ConsulRegistrar.register(): the port of service "${this.service.name}" is unknown: ` +
          'call it after app.listen(), or set service.port',
      );
    }
    this.endpoint = endpoint;
    await this.registerOnce();
  }

  /** Removes this instance from Consul and stops the heartbeat and reconcile loop. */
  async deregister(): Promise<void> {
    this.stopKeepAlive();
    if (!this.endpoint) return;
    await this.client.deregisterService(this.endpoint.id);
    this.registered = false;
    this.states.enter('deregistered', 'log', `Deregistered ${this.describe()}`);
  }

  /** Puts this instance in (or out of) maintenance: discovery stops (or resumes) returning it. */
  async setMaintenance(enable: boolean, reason?: string): Promise<void> {
    if (!this.endpoint) throw new Error('ConsulRegistrar.setMaintenance(): this instance is not registered yet');
    await this.client.setServiceMaintenance(this.endpoint.id, enable, reason);
    this.logger.log(`${enable ? 'Entered' : 'Left'} maintenance: ${this.describe()}${reason ? ` (${reason})` : ''}`);
  }

  /** While the server still answers: maintenance, drain, deregister. Never throws, never hangs past the request timeouts. */
  async beforeApplicationShutdown(): Promise<void> {
    this.lifetime.abort();
    this.stopReconnectListener?.();
    this.stopKeepAlive();
    await this.registering;
    if (!this.registered || !this.endpoint) return;
    const { id } = this.endpoint;
    try {
      await this.client.setServiceMaintenance(id, true, 'shutting down');
      if (this.options.registration.drainDelayMs > 0) {
        this.logger.log(`Draining ${id} for ${this.options.registration.drainDelayMs} ms before deregistering`);
        await sleep(this.options.registration.drainDelayMs);
      }
    } catch (error) {
      this.logger.warn(`Could not put ${id} in maintenance before shutdown: ${(error as Error).message}`);
    }
    try {
      await this.client.deregisterService(id);
      this.registered = false;
      this.logger.log(`Deregistered ${this.describe()}`);
    } catch (error) {
      this.logger.warn(
        `Could not deregister ${id}: ${(error as Error).message}. Consul removes it once its check has been critical for ` +
          `${this.service.check.deregisterCriticalServiceAfter} (service.check.deregisterCriticalServiceAfter).`,
      );
    }
  }

  private async preflight(): Promise<void> {
    try {
      const leader = await this.client.leader();
      if (!leader) throw new ConsulUnavailableError(this.client.address, 'the cluster has no leader');
      await this.client.verifyToken();
    } catch (error) {
      if (!(error instanceof ConsulRequestError)) throw error;
      const cause = error.forbidden ? `the ACL token in consul.token was refused (${error.reason})` : error.reason;
      throw new ConsulUnavailableError(this.client.address, cause);
    }
  }

  private async registerWhenReachable(): Promise<void> {
    let endpoint: InstanceEndpoint | undefined;
    try {
      endpoint = await awaitInstanceEndpoint(this.endpointContext(), this.lifetime.signal);
    } catch (error) {
      this.logger.error(`Not registering service "${this.service.name}": ${(error as Error).message}`);
      return;
    }
    if (!endpoint || !(await this.grpcHealthServed(endpoint))) return;
    this.endpoint = endpoint;
    await this.registerWithRetry();
  }

  /** Retries with jittered backoff until registered or shut down; concurrent callers share one attempt loop. */
  private registerWithRetry(): Promise<boolean> {
    this.registering ??= (async () => {
      const { initialDelayMs, maxDelayMs, factor } = this.options.registration.retry;
      const backoff = new Backoff(initialDelayMs, maxDelayMs, factor);
      while (!this.lifetime.signal.aborted) {
        try {
          await this.registerOnce();
          return true;
        } catch (error) {
          this.reportFailure(error);
          if (!(await sleep(backoff.next(), this.lifetime.signal, this.client.reachability.onReconnect))) return false;
        }
      }
      return false;
    })().finally(() => (this.registering = undefined));
    return this.registering;
  }

  private async registerOnce(): Promise<void> {
    const endpoint = this.endpoint!;
    await this.client.registerService(buildServiceDefinition(this.service, endpoint));
    this.registered = true;
    this.states.enter('registered', 'log', `Registered ${this.describe()} (${endpoint.checkType} check)`);
    this.startKeepAlive();
    this.waiters.splice(0).forEach((resolve) => resolve());
  }

  private reportFailure(error: unknown): void {
    const name = this.service.name;
    if (isUnreachable(error)) {
      // The client has warned once for the whole app; this is the registrar's detail.
      this.states.enter(
        'unreachable',
        'debug',
        `${(error as Error).message}; registering "${name}" as soon as it is back`,
      );
    } else if (error instanceof ConsulRequestError && error.forbidden) {
      this.states.enter(
        'failing',
        'error',
        `${error.message}. Set consul.token to an ACL token with service:write on "${name}"; retrying meanwhile`,
      );
    } else {
      this.states.enter('failing', 'error', `${(error as Error).message}; retrying`);
    }
  }

  private startKeepAlive(): void {
    this.stopKeepAlive();
    if (this.lifetime.signal.aborted) return;
    const endpoint = this.endpoint!;
    if (endpoint.checkType === 'ttl') {
      const { ttlMs } = this.service.check;
      this.heartbeat = new TtlHeartbeat(
        this.client,
        this.health,
        checkIdOf(endpoint.id),
        ttlMs,
        () => this.forgotten(),
        this.logger,
      );
      this.heartbeat.start();
    }
    this.reconcileTimer = setTimeout(() => void this.reconcile(), this.options.registration.reconcileIntervalMs);
  }

  private stopKeepAlive(): void {
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = undefined;
    this.heartbeat?.stop();
    this.heartbeat = undefined;
  }

  private reconcileNow(): void {
    if (!this.registered || !this.reconcileTimer || this.lifetime.signal.aborted) return;
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = undefined;
    void this.reconcile();
  }

  /** Asks the agent whether it still knows this instance; an agent restarted without its state does not. */
  private async reconcile(): Promise<void> {
    this.reconcileTimer = undefined; // no timer pending while a reconcile runs (reconcileNow checks it)
    const endpoint = this.endpoint!;
    try {
      if (!(await this.client.agentService(endpoint.id))) return this.forgotten();
      this.states.enter(
        'registered',
        this.states.state === 'unreachable' ? 'debug' : 'log',
        `Consul is reachable again and still has ${this.describe()}`,
      );
    } catch (error) {
      this.reportFailure(error);
    }
    if (this.registered && !this.lifetime.signal.aborted) {
      this.reconcileTimer = setTimeout(() => void this.reconcile(), this.options.registration.reconcileIntervalMs);
    }
  }

  private forgotten(): void {
    if (this.lifetime.signal.aborted) return;
    this.registered = false;
    this.stopKeepAlive();
    this.states.enter('lost', 'warn', `The Consul agent no longer knows ${this.describe()}; registering it again`);
    void this.registerWithRetry();
  }

  /** For `grpc` checks: waits until the server answers gRPC and refuses to register one that serves no health service. */
  private async grpcHealthServed(endpoint: InstanceEndpoint): Promise<boolean> {
    if (endpoint.checkType !== 'grpc') return true;
    const target = `${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`;
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

  private endpointContext(): EndpointContext {
    return {
      options: this.options,
      service: this.service,
      adapterHost: this.adapterHost,
      checkType: this.checkType!,
      logger: this.logger,
    };
  }

  /** The app's service; only code that runs once there is one (an endpoint, a registration) reads it. */
  private get service(): ResolvedServiceOptions {
    return this.options.service!;
  }

  private describe(): string {
    const e = this.endpoint;
    return e
      ? `service "${this.service.name}" (id ${e.id}) at ${e.address}:${e.port}`
      : `service "${this.service.name}"`;
  }
}
