import type { Transport } from '@nestjs/microservices';
import type { LoadBalancerOption } from '../balancing/load-balancer.js';
import type { DiscoveryQuery } from '../discovery/consul-discovery.service.js';
import type { ConsulGrpcClientOptions } from './grpc/consul-grpc.client.js';
import type { ConsulHttpClientOptions } from './http/consul-http.client.js';

/** HTTP client options as written in `forFeature` (durations as strings). */
export interface ConsulHttpFeatureOptions extends Omit<ConsulHttpClientOptions, 'timeoutMs' | 'outlier'> {
  /** Per-request timeout, e.g. `"2s"`. Default `"5s"`. */
  timeout?: string;
  outlier?: { consecutiveFailures?: number; cooldown?: string };
}

/**
 * One client in `ConsulModule.forFeature([...])`. `loadBalancer` chooses the instance of each
 * call for this client (default `discovery.loadBalancer`), for every transport.
 */
export type ConsulClientDefinition =
  | { service: string; transport: Transport.GRPC; options: ConsulGrpcClientOptions; loadBalancer?: LoadBalancerOption }
  | { service: string; transport: 'http'; options?: ConsulHttpFeatureOptions; loadBalancer?: LoadBalancerOption }
  | {
      service: string;
      transport: Exclude<Transport, Transport.GRPC>;
      options?: Record<string, unknown>;
      query?: DiscoveryQuery;
      loadBalancer?: LoadBalancerOption;
    };
