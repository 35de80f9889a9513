import { ConsulLeaderService } from './locks/consul-leader.service.js';
import type { ConsulMetrics } from './observability/consul-metrics.js';
import type { WatchObserver } from './observability/watch-observer.js';
import { ConsulRegistrar } from './registration/consul.registrar.js';
import type { RegistrationState } from './registration/registration-state.js';

/** One watch (a blocking-query loop) as {@link ConsulStatusService.snapshot} shows it. */
export interface ConsulWatchStatus {
  kind: 'service' | 'kv';
  /** As in the logs: `service "billing" in dc2 tagged v2`, `KV prefix "config/app/"`. */
  query: string;
  service?: string;
  datacenter?: string;
  /** Instances in the latest answer (service watches). */
  instances?: number;
  /** `X-Consul-Index` of the latest answer. */
  index?: number;
  requests: number;
  errors: number;
  /** When Consul last answered (ISO 8601), if it has. */
  lastContact?: string;
  /** Seconds since then (since the watch started, before the first answer). */
  staleSeconds: number;
  lastError?: { message: string; at: string };
}

/** One registered service as {@link ConsulStatusService.snapshot} shows it. */
export interface ConsulRegistrationStatus {
  service: string;
  instanceId?: string;
  address?: string;
  state: RegistrationState;
  registered: boolean;
  /** When it entered `state` (ISO 8601). */
  since: string;
  reregistrations: number;
}

/** What this app knows about its place in Consul, at one moment: plain data, safe to serialize. */
export interface ConsulStatusSnapshot {
  /** When the snapshot was taken (ISO 8601). */
  at: string;
  /** The main service's registration (`service`); absent in an app that registers no service. */
  registration?: ConsulRegistrationStatus;
  /** Every service this app registers: the main one first, then each of `microservices` (hybrid apps). */
  services: ConsulRegistrationStatus[];
  /** Discovery watches, one per distinct query in use. */
  watches: ConsulWatchStatus[];
  /** Configuration contexts being followed, with the index of their latest answer. */
  config: Array<{ context: string; index?: number; lastContact?: string; lastError?: { message: string; at: string } }>;
  /** Typed clients: their balancer and the instances their outlier ejection skips now. */
  clients: Array<{ service: string; transport: string; balancer: string; ejected: string[] }>;
  /** Elections this app campaigns in. */
  leadership: Array<{ election: string; leading: boolean; leader?: string; fencingToken?: number }>;
}

/**
 * A snapshot of this app's Consul state for a status page: put it behind your own (guarded)
 * route; the package opens none. The snapshot carries instance ids, addresses, query names and
 * error messages, never a KV value or a token.
 *
 * ```ts
 * @Get('/internal/consul') @UseGuards(AdminGuard)
 * status() { return this.consulStatus.snapshot(); }
 * ```
 */
export class ConsulStatusService {
  /** @internal Nest builds it; inject it instead. */
  constructor(
    /** This app's metrics, which follow this app's watches and clients only. */
    private readonly metrics: ConsulMetrics,
    private readonly registrar?: ConsulRegistrar,
    private readonly leaders?: ConsulLeaderService,
  ) {}

  snapshot(): ConsulStatusSnapshot {
    const now = Date.now();
    const own = [...this.metrics.watches];
    return {
      at: new Date(now).toISOString(),
      registration: this.registration(),
      services: (this.registrar?.services ?? []).map(({ since, ...status }) => ({
        ...status,
        since: since.toISOString(),
      })),
      watches: own.filter((w) => w.description.kind === 'service').map((w) => watchStatus(w, now)),
      config: own
        .filter((w) => w.description.kind === 'kv')
        .map((w) => {
          const { index, lastContact, lastError } = watchStatus(w, now);
          return { context: w.description.context!, index, lastContact, lastError };
        }),
      clients: [...this.metrics.clients].map((client) => ({ service: client.service, ...client.status() })),
      leadership: (this.leaders?.running ?? []).map((election) => ({
        election: election.name,
        leading: election.isLeader,
        leader: election.leader?.instanceId,
        fencingToken: election.fencingToken,
      })),
    };
  }

  private registration(): ConsulStatusSnapshot['registration'] {
    const status = this.registrar?.state;
    if (!this.registrar || !status?.service) return undefined;
    const { service, state, since, reregistrations } = status;
    return {
      service,
      instanceId: this.registrar.instanceId,
      address: this.registrar.instanceAddress,
      state,
      registered: this.registrar.isRegistered,
      since: since.toISOString(),
      reregistrations,
    };
  }
}

function watchStatus(watch: WatchObserver, now: number): ConsulWatchStatus {
  const { kind, query, service, datacenter } = watch.description;
  return {
    kind,
    query,
    service,
    datacenter,
    instances: watch.instances,
    index: watch.index,
    requests: watch.requests,
    errors: watch.errors,
    lastContact: watch.lastContact === undefined ? undefined : new Date(watch.lastContact).toISOString(),
    staleSeconds: (now - (watch.lastContact ?? watch.startedAt)) / 1000,
    lastError: watch.lastError && { message: watch.lastError.message, at: new Date(watch.lastError.at).toISOString() },
  };
}
