import { type BeforeApplicationShutdown, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ConsulApi } from '../consul-api/consul-api.js';
import type { AgentCheckDefinition } from '../consul-api/consul-api.types.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import { ConsulHealthService } from '../health/consul-health.service.js';
import { ConsulOptionsError, type OptionProblem } from '../options/consul-options.error.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { ConsulCheckPulse } from '../health/check-pulse.js';
import { preflight } from './preflight.js';
import { RegistrationStateMachine, type RegistrationState } from './registration-state.js';
import { ServiceRegistration } from './service-registration.js';
import type { ConsulMetrics } from '../observability/consul-metrics.js';
import { ConsulKitUsageError } from '../common/consul-kit-usage.error.js';

/** One registered service as {@link ConsulRegistrar.services} shows it. */
export interface ServiceRegistrationStatus {
  service: string;
  instanceId?: string;
  /** `host:port`, once known. */
  address?: string;
  state: RegistrationState;
  registered: boolean;
  since: Date;
  reregistrations: number;
}

/**
 * Registers this app in Consul once it is really reachable, keeps it registered ({@link KeepAlive}:
 * reconcile, TTL heartbeat, re-registration when the agent forgets it) and takes it out on shutdown
 * ({@link leaveConsul}: maintenance, drain delay, deregistration). Each service is one
 * {@link ServiceRegistration}: the main one (`service`) and, in a hybrid app, one per entry of
 * `microservices`, each with its own instance id, check, state and keep-alive. They register
 * independently: one that cannot be registered is logged and retried, and does not hold back or
 * take out the others (each has its own health in Consul).
 *
 * The members below that speak of "this instance" (`instanceId`, `checkId`, `state`,
 * `whenRegistered()`) are the main service's, and so is the locks' liveness check: locks and
 * sessions tie to it.
 *
 * Inject it for manual control (`registration.enabled: false`).
 */
export class ConsulRegistrar implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.registrar);
  /** Aborted when the app shuts down: ends waits, retries, a registration in flight, timers. */
  private readonly lifetime = new AbortController();
  /** Checks other parts of the module attached to the main instance (the locks' liveness check), by id. */
  private readonly attachedChecks = new Map<string, AgentCheckDefinition>();
  /** The main service's registration; undefined in an app that registers nothing. */
  private readonly main?: ServiceRegistration;
  /** The main service's, then each microservice's. */
  private readonly registrations: ServiceRegistration[] = [];
  /** Where an app without a service stands (idle, then stopped). */
  private readonly idle: RegistrationStateMachine;

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly client: ConsulApi,
    health: ConsulHealthService,
    adapterHost: HttpAdapterHost,
    pulse: ConsulCheckPulse,
    /** The app's: the registration gauges and heartbeat failures are reported there. */
    metrics: ConsulMetrics,
  ) {
    this.idle = new RegistrationStateMachine(this.logger);
    const deps = { options, client, health, pulse, metrics, logger: this.logger, lifetime: this.lifetime.signal };
    if (options.service) {
      this.main = new ServiceRegistration(deps, options.service, 'service', adapterHost, this.attachedChecks);
      this.registrations.push(this.main);
    }
    options.microservices.forEach((microservice, i) => {
      this.registrations.push(new ServiceRegistration(deps, microservice, `microservices[${i}]`, undefined));
    });
  }

  /** The registered instance id (of the main service), once the app's port is known. */
  get instanceId(): string | undefined {
    return this.main?.endpoint?.id;
  }

  /** The id of the main instance's health check in Consul, once registered with one (sessions tie locks to it). */
  get checkId(): string | undefined {
    return this.main?.checkId;
  }

  /** The registered address and port of the main service, once known. */
  get instanceAddress(): string | undefined {
    return this.main?.address;
  }

  /** Where the main service stands with Consul (see {@link RegistrationState}), and since when. */
  get state(): { service?: string; state: RegistrationState; since: Date; reregistrations: number } {
    const { state, since, reregistrations } = this.main?.machine ?? this.idle;
    return { service: this.options.service?.name, state, since, reregistrations };
  }

  /** Every service this app registers (the main one first, then `microservices`), as each stands now. */
  get services(): ServiceRegistrationStatus[] {
    return this.registrations.map((registration) => {
      const { state, since, reregistrations, isRegistered } = registration.machine;
      return {
        service: registration.service.name,
        instanceId: registration.endpoint?.id,
        address: registration.address,
        state,
        registered: isRegistered,
        since,
        reregistrations,
      };
    });
  }

  /** Whether Consul has (as far as we last saw) the main service registered. */
  get isRegistered(): boolean {
    return this.main?.machine.isRegistered ?? false;
  }

  /**
   * Resolves once the main service is registered (at once if it already is). With `registration.enabled:
   * false` that is only after your own `register()`: until then it does not resolve.
   */
  whenRegistered(): Promise<void> {
    return (this.main?.machine ?? this.idle).whenRegistered();
  }

  /**
   * Adds a check to the main instance's registration, now (one re-registration, if it is registered) and
   * in every later one: a re-registration replaces the agent's checks with the definition's, so a
   * check registered on the side would be dropped by the next one. The agent keeps the status of
   * checks it already has.
   *
   * Internal, for the locks' liveness check; a check of the app's own goes in `service.check`.
   *
   * @internal
   */
  async attachCheck(check: AgentCheckDefinition & { CheckID: string }): Promise<void> {
    this.attachedChecks.set(check.CheckID, check);
    await this.main?.refresh();
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.main) {
      // Nothing to register: an app that only discovers or reads configuration. No failFast
      // preflight either: it checks what registering needs, and this app never registers.
      return;
    }
    const { enabled } = this.options.registration;
    // Every service's check is chosen before anything is registered, and every misfit reported at once.
    const prepared = await Promise.allSettled(this.registrations.map((r) => r.prepare(enabled)));
    const problems: OptionProblem[] = [];
    for (const result of prepared) {
      if (result.status === 'fulfilled') continue;
      if (!(result.reason instanceof ConsulOptionsError)) throw result.reason;
      problems.push(...result.reason.problems);
    }
    if (problems.length > 0) throw new ConsulOptionsError(problems);
    if (this.options.registration.failFast) await preflight(this.client);
    // An agent that answers again after an outage may have restarted without its state: ask it
    // now rather than at the next reconcile tick (registration.reconcileInterval, 30 s by default).
    const stopListening = this.client.reachability.onReconnect(() =>
      this.registrations.forEach((r) => r.reconcileNow()),
    );
    this.lifetime.signal.addEventListener('abort', stopListening, { once: true });
    if (enabled) this.registrations.forEach((r) => void r.registerWhenReachable());
  }

  /**
   * Registers now, once, with the current address and port (the HTTP server's if it listens,
   * else `service.port`), then each microservice. Rejects with the first reason Consul refuses (the
   * services registered before it stay registered: `deregister()` takes them out); does not retry.
   */
  async register(): Promise<void> {
    if (!this.main) {
      throw new ConsulKitUsageError(
        'ConsulRegistrar.register()',
        'there is no service to register: add service: { name } to the options',
      );
    }
    for (const registration of this.registrations) await registration.registerNow();
  }

  /** Removes every service of this app from Consul and stops the heartbeats, the reconcile loops and any retries. */
  async deregister(): Promise<void> {
    for (const registration of this.registrations) await registration.deregister();
  }

  /** Puts every service of this app in (or out of) maintenance: discovery stops (or resumes) returning them. */
  async setMaintenance(enable: boolean, reason?: string): Promise<void> {
    if (!this.main) {
      throw new ConsulKitUsageError(
        'ConsulRegistrar.setMaintenance()',
        'this app registers no service: add service: { name } to the options',
      );
    }
    for (const registration of this.registrations) await registration.setMaintenance(enable, reason);
  }

  /**
   * While the servers still answer: maintenance, drain, deregister, every service at once, all within one
   * `consul.timeout` (plus the drain delay). A registration still in flight is cancelled, not awaited.
   * Never throws.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const inFlight = this.registrations.map((r) => r.attempting);
    this.lifetime.abort();
    await Promise.all(this.registrations.map((r) => r.stop()));
    if (!this.main) {
      this.idle.to('stopped', 'debug', 'Shut down');
      return;
    }
    await Promise.all(this.registrations.map((r, i) => r.leave(inFlight[i])));
  }
}
