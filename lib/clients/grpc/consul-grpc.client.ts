import type { ClientGrpcProxy, GrpcOptions } from '@nestjs/microservices';
import type { LoadBalancer } from '../../balancing/load-balancer.js';
import { RoundRobinBalancer } from '../../balancing/round-robin.balancer.js';
import type { DiscoveryQuery } from '../../discovery/consul-discovery.service.js';
import { consulLoadBalancingConfig, registerGrpcBalancer } from './consul-grpc.balancer.js';
import { CONSUL_GRPC_SCHEME, CONSUL_QUERY_OPTION } from './consul-grpc.resolver.js';
import { loadGrpcJs } from './grpc-js.loader.js';
import { requireMicroservices } from '../../common/optional-peers.js';

/** Nest's own gRPC client options (`GrpcOptions['options']` of `@nestjs/microservices`). */
export type NestGrpcOptions = NonNullable<GrpcOptions['options']>;

/** gRPC client options: Nest's own (package, protoPath, loader, credentials…) less `url`, plus discovery. */
export interface ConsulGrpcClientOptions extends Omit<NestGrpcOptions, 'url'> {
  /** Which instances to call (tags, dc, filter…). */
  query?: DiscoveryQuery;
  /**
   * Retry of calls that fail with UNAVAILABLE (instance died or unreachable) on another instance.
   * `methods`: fully qualified services or methods (`user.UserService`, `user.UserService/GetUser`)
   * that are safe to retry; default all. `maxAttempts` counts the first call; 1 turns retries off.
   */
  retry?: { maxAttempts?: number; methods?: string[] };
  /**
   * Call over Consul Connect (mTLS): only the instances that take Connect calls, with this app's
   * own leaf certificate, accepting only a server whose certificate names `service`. Needs
   * `connect: { native: true }` in `ConsulModule.forRoot()`; not with `credentials`. @default false
   */
  connect?: boolean;
}

/**
 * Nest's `ClientGrpc`, balanced over Consul: every service stub of a target shares one grpc-js
 * channel (`consul://…/<service>`), whose resolver follows the catalog live and whose policy
 * (`nestjs_consul_kit`) asks `balancer` which connected instance takes each call, reusing one
 * connection per instance. A balancer with `start` (least-outstanding) counts each call from
 * its start to its end; each retry attempt is a call of its own. Made by
 * `ConsulModule.forFeature([{ service, transport: Transport.GRPC, options }])`.
 */
export interface ConsulGrpcClient extends ClientGrpcProxy {
  readonly service: string;
  /** Chooses the instance of each call; its own, never shared. */
  readonly balancer: LoadBalancer;
  /** The one channel every stub of this client uses. */
  readonly channel: unknown;
}

type ConsulGrpcClientClass = new (
  service: string,
  sourceId: string,
  options: ConsulGrpcClientOptions,
  balancer?: LoadBalancer,
) => ConsulGrpcClient;
let clientClass: ConsulGrpcClientClass | undefined;

/**
 * A new gRPC client of `service`. The class extends Nest's `ClientGrpcProxy`, so it is defined
 * on first use, once `@nestjs/microservices` is loaded: an HTTP-only app imports this package
 * without it.
 */
export async function createConsulGrpcClient(
  service: string,
  sourceId: string,
  options: ConsulGrpcClientOptions,
  balancer: LoadBalancer = new RoundRobinBalancer(),
): Promise<ConsulGrpcClient> {
  const { ClientGrpcProxy } = await requireMicroservices('A gRPC client (transport: Transport.GRPC)');
  loadGrpcJs(); // says what to install before Nest fails on it
  clientClass ??= defineConsulGrpcClient(ClientGrpcProxy);
  return new clientClass(service, sourceId, options, balancer);
}

function defineConsulGrpcClient(Base: typeof ClientGrpcProxy): ConsulGrpcClientClass {
  return class ConsulGrpcClient extends Base {
    private readonly balancerRegistration: { id: string; unregister(): void };

    constructor(
      readonly service: string,
      sourceId: string,
      options: ConsulGrpcClientOptions,
      readonly balancer: LoadBalancer = new RoundRobinBalancer(),
    ) {
      const registration = registerGrpcBalancer(balancer);
      super(nestOptions(service, sourceId, options, registration.id));
      this.balancerRegistration = registration;
    }

    get channel(): unknown {
      return (this.options as unknown as { channelOptions: { channelOverride: unknown } }).channelOptions
        .channelOverride;
    }

    override close(): void {
      super.close();
      this.balancerRegistration.unregister();
    }
  };
}

/** Nest's options for the client: `url` names our channel, which every stub shares. */
function nestOptions(
  service: string,
  sourceId: string,
  options: ConsulGrpcClientOptions,
  balancerId: string,
): NestGrpcOptions {
  const grpc = loadGrpcJs();
  // `connect` was turned into `credentials` and a Connect query by the caller.
  const { query, retry, connect: _connect, ...nest } = options;
  const url = `${CONSUL_GRPC_SCHEME}://${sourceId}/${service}`;
  const channel = new grpc.Channel(url, (nest.credentials as never) ?? grpc.credentials.createInsecure(), {
    ...nest.channelOptions,
    'grpc.service_config': JSON.stringify(serviceConfig(balancerId, retry)),
    [CONSUL_QUERY_OPTION]: JSON.stringify(query ?? {}),
  });
  // Nest passes channelOptions to each service client's constructor: channelOverride makes them share `channel`.
  return { ...nest, url, channelOptions: { ...nest.channelOptions, channelOverride: channel } } as NestGrpcOptions;
}

/**
 * The channel's service config: our balancing policy, and the retry policy (UNAVAILABLE only,
 * 3 attempts by default; see the README, "Retries", for why). Exported for tests.
 */
export function serviceConfig(balancerId: string, retry: ConsulGrpcClientOptions['retry'] = {}) {
  const maxAttempts = retry.maxAttempts ?? 3;
  const names = retry.methods?.map((name) => {
    const [service, method] = name.split('/');
    return method ? { service, method } : { service };
  }) ?? [{}]; // {} matches every method
  return {
    loadBalancingConfig: [consulLoadBalancingConfig(balancerId)],
    methodConfig:
      maxAttempts > 1
        ? [
            {
              name: names,
              retryPolicy: {
                maxAttempts,
                initialBackoff: '0.05s',
                maxBackoff: '1s',
                backoffMultiplier: 2,
                retryableStatusCodes: ['UNAVAILABLE'],
              },
            },
          ]
        : [],
  };
}
