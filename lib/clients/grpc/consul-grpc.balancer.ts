import type { ChannelOptions, connectivityState, experimental } from '@grpc/grpc-js';
import { RoundRobinBalancer } from '../../balancing/round-robin.balancer.js';
import type { LoadBalancer } from '../../balancing/load-balancer.js';
import type { ServiceInstance } from '../../common/service-instance.js';
import { loadGrpcJs } from './grpc-js.loader.js';
import { notePick } from '../../observability/grpc-pick.js';
import { addToRegistry, type GrpcRegistration, grpcRegistry, unknownEntryMessage } from './grpc-registry.js';

/** Name of our grpc-js load-balancing policy, as it appears in a service config's `loadBalancingConfig`. */
export const CONSUL_LB_POLICY = 'nestjs_consul_kit';
/** Resolver attribute carrying the `ServiceInstance`s behind a resolution's endpoints (weights, ids, status). */
export const CONSUL_INSTANCES_ATTRIBUTE = 'nestjs-consul-kit.instances';

type GrpcJs = ReturnType<typeof loadGrpcJs>;
type Endpoint = experimental.Endpoint;
type Picker = experimental.Picker;
type PickArgs = experimental.PickArgs;
type PickResult = experimental.PickResult;
type ChannelControlHelper = experimental.ChannelControlHelper;
type TypedLoadBalancingConfig = experimental.TypedLoadBalancingConfig;
type LeafLoadBalancer = experimental.LeafLoadBalancer;
/** grpc-js ≥ 1.14 passes a StatusOr; 1.10–1.13 pass the list (errors go elsewhere). */
type EndpointsUpdate = Endpoint[] | { ok: true; value: Endpoint[] } | { ok: false; error: { details: string } };

/**
 * Makes `balancer` choose the instance of every call of a channel whose service config is
 * {@link consulLoadBalancingConfig}(id); `unregister` when the channel closes.
 */
export function registerGrpcBalancer(balancer: LoadBalancer): GrpcRegistration {
  registerConsulBalancingPolicy();
  return addToRegistry(grpcRegistry().balancers, balancer);
}

/** The `loadBalancingConfig` entry selecting our policy with a registered balancer. */
export function consulLoadBalancingConfig(balancerId: string): Record<string, { balancer: string }> {
  return { [CONSUL_LB_POLICY]: { balancer: balancerId } };
}

/** Once per grpc-js, by any copy of this package: every copy's policy reads the shared registry. */
function registerConsulBalancingPolicy(): void {
  const grpc = loadGrpcJs();
  const { registeredWith } = grpcRegistry();
  if (registeredWith.policy.has(grpc.experimental)) return;
  if (!grpc.experimental.isLoadBalancerNameRegistered(CONSUL_LB_POLICY)) {
    const { Policy, Config } = consulBalancingPolicy(grpc);
    grpc.experimental.registerLoadBalancerType(CONSUL_LB_POLICY, Policy, Config);
  }
  registeredWith.policy.add(grpc.experimental);
}

/** The key of an endpoint and of the instance it came from (the resolver makes one endpoint per instance). */
function keyOf(host: string, port: number | undefined): string {
  return `${host}:${port ?? ''}`;
}

function endpointKey(endpoint: Endpoint): string {
  const address = endpoint.addresses[0] as { host?: string; port?: number; path?: string };
  return address.path !== undefined ? address.path : keyOf(address.host ?? '', address.port);
}

/** An endpoint that came without its instance (another resolver): weight 1, id from its address. */
function anonymousInstance(key: string, endpoint: Endpoint): ServiceInstance {
  const address = endpoint.addresses[0] as { host?: string; port?: number };
  return {
    id: key,
    service: '',
    address: address.host ?? key,
    port: address.port ?? 0,
    tags: [],
    meta: {},
    weights: { passing: 1, warning: 1 },
    dc: '',
    node: '',
    status: 'passing',
  };
}

/** The classes of our policy, as registered with grpc-js (and used by the unit spec). */
export interface ConsulBalancingPolicy {
  Policy: new (
    helper: ChannelControlHelper,
    legacyOptions?: ChannelOptions,
  ) => experimental.LoadBalancer & {
    updateAddressList(
      update: EndpointsUpdate,
      config: TypedLoadBalancingConfig,
      options?: ChannelOptions,
      resolutionNote?: string,
    ): boolean;
  };
  Config: {
    new (balancerId: string): TypedLoadBalancingConfig & { readonly balancerId: string };
    createFromJson(json: unknown): TypedLoadBalancingConfig;
  };
  Picker: new (instances: readonly ServiceInstance[], pickers: readonly Picker[], balancer: LoadBalancer) => Picker;
}

/**
 * Our grpc-js policy: one pick_first leaf per endpoint (one connection per instance, kept
 * connected, as round_robin does), and a picker that asks our `LoadBalancer` which READY
 * instance takes each call. A balancer with `start` counts the call from grpc-js's
 * `onCallStarted` to its `onCallEnded`, so a pick dropped before its call starts counts nothing.
 * Built only from grpc-js's exported `experimental` API, for 1.10 to 1.14. Exported for tests.
 */
export function consulBalancingPolicy(grpc: GrpcJs): ConsulBalancingPolicy {
  const ConnectivityState = grpc.connectivityState;
  const { QueuePicker, UnavailablePicker, PickResultType, LeafLoadBalancer, createChildChannelControlHelper } =
    grpc.experimental;

  class Config implements TypedLoadBalancingConfig {
    constructor(readonly balancerId: string) {}

    getLoadBalancerName(): string {
      return CONSUL_LB_POLICY;
    }

    toJsonObject(): object {
      return consulLoadBalancingConfig(this.balancerId);
    }

    static createFromJson(json: unknown): Config {
      const balancer = (json as { balancer?: unknown } | null)?.balancer;
      if (typeof balancer !== 'string') {
        throw new Error(`${CONSUL_LB_POLICY} load balancing config needs a "balancer" id, got ${JSON.stringify(json)}`);
      }
      return new Config(balancer);
    }
  }

  class ConsulPicker implements Picker {
    private readonly byInstance = new Map<ServiceInstance, Picker>();

    constructor(
      private readonly instances: readonly ServiceInstance[],
      pickers: readonly Picker[],
      private readonly balancer: LoadBalancer,
    ) {
      instances.forEach((instance, i) => this.byInstance.set(instance, pickers[i]));
    }

    pick(args: PickArgs): PickResult {
      let instance: ServiceInstance;
      try {
        instance = this.balancer.pick(this.instances);
      } catch (error) {
        return new UnavailablePicker({
          details: `${CONSUL_LB_POLICY}: the load balancer's pick() threw: ${(error as Error)?.message ?? String(error)}`,
        }).pick(args);
      }
      let picker = this.byInstance.get(instance);
      if (!picker) {
        // A custom balancer returned a copy, or something not offered: match by id, else the first.
        const match = this.instances.find((i) => i.id === instance?.id) ?? this.instances[0];
        instance = match;
        picker = this.byInstance.get(match)!;
      }
      const result = picker.pick(args);
      if (result.pickResultType === PickResultType.COMPLETE) notePick(instance, args.metadata);
      const balancer = this.balancer;
      if (!balancer.start || result.pickResultType !== PickResultType.COMPLETE) return result;
      const { onCallStarted, onCallEnded } = result;
      let end: (() => void) | undefined;
      return {
        ...result,
        onCallStarted: () => {
          onCallStarted?.();
          // grpc-js runs this inside a promise callback: a custom start() that throws must not
          // become an unhandled rejection. The call then goes uncounted.
          try {
            end = balancer.start!(instance);
          } catch {
            end = undefined;
          }
        },
        onCallEnded: ((...status: Parameters<NonNullable<PickResult['onCallEnded']>>) => {
          onCallEnded?.(...status);
          const release = end;
          end = undefined;
          try {
            release?.();
          } catch {
            // A custom end that throws must not break grpc-js's status delivery.
          }
        }) as PickResult['onCallEnded'],
      };
    }
  }

  interface Child {
    leaf: LeafLoadBalancer;
    instance: ServiceInstance;
  }

  class Policy implements experimental.LoadBalancer {
    private children = new Map<string, Child>();
    private state: connectivityState = ConnectivityState.IDLE;
    private balancer: LoadBalancer = new RoundRobinBalancer();
    private readonly childHelper: ChannelControlHelper;
    private updatesPaused = false;
    private lastError: string | null = null;
    private kickScheduled = false;
    private destroyed = false;

    /** `legacyOptions`: older grpc-js (1.10) gives the channel options here, and only attributes to updateAddressList. */
    constructor(
      private readonly helper: ChannelControlHelper,
      private readonly legacyOptions?: ChannelOptions,
    ) {
      this.childHelper = createChildChannelControlHelper(helper, {
        updateState: (state, _picker, errorMessage) => {
          if (this.state === ConnectivityState.READY && state !== ConnectivityState.READY) {
            helper.requestReresolution();
          }
          if (errorMessage) this.lastError = errorMessage;
          this.calculateAndUpdateState();
        },
      });
    }

    updateAddressList(
      update: EndpointsUpdate,
      config: TypedLoadBalancingConfig,
      options?: ChannelOptions,
      resolutionNote?: string,
    ): boolean {
      if (!(config instanceof Config)) return false;
      const balancer = grpcRegistry().balancers.get(config.balancerId);
      if (!balancer) {
        // Never another client's balancer, nor a default one: the calls fail, saying why.
        const details = unknownEntryMessage(`${CONSUL_LB_POLICY} balancer "${config.balancerId}"`);
        for (const child of this.children.values()) child.leaf.destroy();
        this.children.clear();
        this.updateState(ConnectivityState.TRANSIENT_FAILURE, new UnavailablePicker({ details }), details);
        return true;
      }
      this.balancer = balancer;
      let endpoints: Endpoint[];
      if (Array.isArray(update)) endpoints = update;
      else if (update.ok) endpoints = update.value;
      else {
        if (this.children.size === 0) {
          this.updateState(
            ConnectivityState.TRANSIENT_FAILURE,
            new UnavailablePicker(update.error),
            update.error.details,
          );
        }
        return true;
      }
      // Our attribute must not reach the subchannels: grpc-js keys its subchannel pool on their options.
      const { [CONSUL_INSTANCES_ATTRIBUTE]: attribute, ...childOptions } = {
        ...this.legacyOptions,
        ...options,
      } as ChannelOptions;
      const instances = new Map<string, ServiceInstance>();
      for (const instance of (attribute as ServiceInstance[] | undefined) ?? []) {
        instances.set(keyOf(instance.address, instance.port), instance);
      }

      const next = new Map<string, Child>();
      const started: LeafLoadBalancer[] = [];
      for (const endpoint of endpoints) {
        const key = endpointKey(endpoint);
        if (next.has(key)) continue;
        const instance = instances.get(key) ?? anonymousInstance(key, endpoint);
        const existing = this.children.get(key);
        if (existing) {
          // Same address: keep its connection; the instance may carry new weights or status.
          existing.instance = instance;
          this.children.delete(key);
          next.set(key, existing);
        } else {
          const leaf = new LeafLoadBalancer(endpoint, this.childHelper, childOptions, resolutionNote ?? '');
          next.set(key, { leaf, instance });
          started.push(leaf);
        }
      }
      const gone = [...this.children.values()];
      this.children = next;
      this.updatesPaused = true;
      for (const child of gone) child.leaf.destroy();
      for (const leaf of started) leaf.startConnecting();
      this.updatesPaused = false;
      if (next.size === 0) {
        const details = `${CONSUL_LB_POLICY}: no addresses resolved${resolutionNote ? ` (${resolutionNote})` : ''}`;
        this.updateState(ConnectivityState.TRANSIENT_FAILURE, new UnavailablePicker({ details }), details);
        return true;
      }
      this.calculateAndUpdateState();
      return true;
    }

    /** Reconnects idle children on a later tick: never calls the channel back from inside exitIdle(). */
    exitIdle(): void {
      this.scheduleKick();
    }

    resetBackoff(): void {
      // Each pick_first leaf has its own backoff; nothing here.
    }

    destroy(): void {
      this.destroyed = true;
      for (const child of this.children.values()) child.leaf.destroy();
      this.children.clear();
    }

    getTypeName(): string {
      return CONSUL_LB_POLICY;
    }

    private calculateAndUpdateState(): void {
      if (this.updatesPaused || this.destroyed) return;
      const ready: Child[] = [];
      let connecting = false;
      let failing = false;
      let idle = false;
      for (const child of this.children.values()) {
        const state = child.leaf.getConnectivityState();
        if (state === ConnectivityState.READY) ready.push(child);
        else if (state === ConnectivityState.CONNECTING) connecting = true;
        else if (state === ConnectivityState.TRANSIENT_FAILURE) failing = true;
        else if (state === ConnectivityState.IDLE) idle = true;
      }
      if (ready.length > 0) {
        const picker = new ConsulPicker(
          ready.map((child) => child.instance),
          ready.map((child) => child.leaf.getPicker()),
          this.balancer,
        );
        this.updateState(ConnectivityState.READY, picker, null);
      } else if (connecting) {
        this.updateState(ConnectivityState.CONNECTING, new QueuePicker(this), null);
      } else if (failing) {
        const details = `${CONSUL_LB_POLICY}: no connection established. Last error: ${this.lastError}`;
        this.updateState(ConnectivityState.TRANSIENT_FAILURE, new UnavailablePicker({ details }), details);
      } else {
        this.updateState(ConnectivityState.IDLE, new QueuePicker(this), null);
      }
      // Keep every instance connected, as round_robin does.
      if (idle) this.scheduleKick();
    }

    private scheduleKick(): void {
      if (this.kickScheduled) return;
      this.kickScheduled = true;
      process.nextTick(() => {
        this.kickScheduled = false;
        if (this.destroyed) return;
        for (const { leaf } of this.children.values()) {
          if (leaf.getConnectivityState() !== ConnectivityState.IDLE) continue;
          // Newer grpc-js (1.13, 1.14) has exitIdle(); 1.10 reconnects a leaf by giving it its endpoint again.
          if (typeof leaf.exitIdle === 'function') leaf.exitIdle();
          else leaf.startConnecting();
        }
      });
    }

    private updateState(state: connectivityState, picker: Picker, errorMessage: string | null): void {
      if (this.destroyed) return;
      this.state = state;
      this.helper.updateState(state, picker, errorMessage);
    }
  }

  return { Policy, Config, Picker: ConsulPicker };
}
