import type { HealthIndicatorFunction } from '@nestjs/terminus';
import type { LoadBalancerOption } from '../balancing/load-balancer.js';
import type { ResolvedConfigOptions } from '../config/consul-config.options.js';
import type { Cidr } from '../registration/cidr.js';
import type { ConsulCheckType } from './consul-options.interface.js';

/** Module options after validation and defaults: what the rest of the library reads. */
export interface ResolvedConsulOptions {
  consul: {
    host: string;
    port: number;
    secure: boolean;
    token?: string;
    ca?: string | Buffer;
    cert?: string | Buffer;
    key?: string | Buffer;
    timeoutMs: number;
    /** `http(s)://host:port`, for messages (never carries the token). */
    address: string;
  };
  /** Undefined for an app that registers nothing (it only discovers, or reads configuration). */
  service?: {
    name: string;
    id?: string;
    address?: string;
    port?: number;
    tags: string[];
    meta: Record<string, string>;
    enableTagOverride: boolean;
    weights?: { passing: number; warning: number };
    check: {
      /** `undefined`: chosen when the app starts (`http` with an HTTP server, else `tcp`). */
      type?: ConsulCheckType;
      path: string;
      interval: string;
      timeout?: string;
      ttlMs: number;
      deregisterCriticalServiceAfter: string;
      tlsSkipVerify: boolean;
    };
  };
  registration: {
    enabled: boolean;
    failFast: boolean;
    retry: { initialDelayMs: number; maxDelayMs: number; factor: number };
    reconcileIntervalMs: number;
    drainDelayMs: number;
  };
  address: { preferredNetworks: Cidr[]; interface?: string; family: 4 | 6 };
  health: { indicators: HealthIndicatorFunction[] };
  /** Undefined when the app configured no `config`. */
  config?: ResolvedConfigOptions;
  discovery: {
    waitMs: number;
    idleTimeoutMs: number;
    rateLimit: { perSecond: number; burst: number };
    loadBalancer: LoadBalancerOption;
    passingOnly: boolean;
    consistency: 'default' | 'stale';
    failoverDatacenters: string[];
    dns: { host: string; port: number };
  };
}

/** The `service` of an app that registers itself. */
export type ResolvedServiceOptions = NonNullable<ResolvedConsulOptions['service']>;
