import type { HealthIndicatorFunction } from '@nestjs/terminus';
import type { LoadBalancerOption } from '../balancing/load-balancer.js';
import type { ConsulConfigOptions } from '../config/consul-config.options.js';

/** How to reach the Consul agent. */
export interface ConsulConnectionOptions {
  /** Agent host. Default `127.0.0.1`. */
  host?: string;
  /** Agent HTTP(S) port. Default `8500`. */
  port?: number;
  /** Use HTTPS. Default `false`. */
  secure?: boolean;
  /** ACL token, sent as `X-Consul-Token` on every call; never logged. */
  token?: string;
  /** CA certificate(s) that sign the agent's HTTPS certificate (PEM). */
  ca?: string | Buffer;
  /** Client certificate (PEM), for agents that verify incoming HTTPS. */
  cert?: string | Buffer;
  /** Client key (PEM) for `cert`. */
  key?: string | Buffer;
  /** Timeout of every non-blocking request, e.g. `"5s"`. Default `"5s"`. */
  timeout?: string;
}

/** The check type Consul runs against this instance. */
export type ConsulCheckType = 'http' | 'tcp' | 'grpc' | 'ttl' | 'none';

export interface ConsulCheckOptions {
  /**
   * `http` (default for apps with an HTTP server): Consul calls the health endpoint the module serves.
   * `tcp` (default for microservice-only apps): Consul opens a TCP connection to address:port.
   * `grpc`: Consul calls `grpc.health.v1.Health/Check`, which the module serves in the app's gRPC microservice.
   * `ttl`: the app reports its own health to Consul at about 2/3 of `ttl`.
   * `none`: no check.
   */
  type?: ConsulCheckType;
  /** Path of the health endpoint served for `http` checks. Default `/health`. */
  path?: string;
  /** How often Consul runs the check. Default `"10s"`. */
  interval?: string;
  /** How long Consul waits for one check. Default: Consul's own (10s). */
  timeout?: string;
  /** TTL of a `ttl` check. Default `"15s"`. */
  ttl?: string;
  /** Consul removes the instance after its check has been critical this long. Default `"1m"` (Consul's minimum). */
  deregisterCriticalServiceAfter?: string;
  /** Skip TLS verification in HTTP/gRPC checks. Default `false`. */
  tlsSkipVerify?: boolean;
}

/** What is registered in Consul for this app. */
export interface ConsulServiceOptions {
  /** Service name (letters, digits, `-`, `_`): the name others discover. Required. */
  name: string;
  /** Instance id. Default `${name}-${hostname}-${port}`, DNS-safe: unique per instance, stable across restarts. */
  id?: string;
  /** Registered address. Default: the HTTP server's bound address, else auto-detected (see `address`). */
  address?: string;
  /** Registered port. Default: the port the HTTP server actually listens on (works with `listen(0)`). */
  port?: number;
  tags?: string[];
  meta?: Record<string, string>;
  enableTagOverride?: boolean;
  /** Weights used by DNS SRV answers and weighted balancers. */
  weights?: { passing: number; warning: number };
  check?: ConsulCheckOptions;
}

export interface ConsulRetryOptions {
  /** First delay between registration attempts. Default `"1s"`. */
  initialDelay?: string;
  /** Longest delay between attempts. Default `"30s"`. */
  maxDelay?: string;
  /** Growth of the delay per failed attempt. Default `2`. */
  factor?: number;
}

export interface ConsulRegistrationOptions {
  /** Register automatically once the app listens. Default `true`; `false` leaves it to `ConsulRegistrar`. */
  enabled?: boolean;
  /** Fail bootstrap when Consul is unreachable (or the token is refused). Default `false`: boot, retry in the background. */
  failFast?: boolean;
  retry?: ConsulRetryOptions;
  /** How often to check the agent still knows this instance (and re-register if not). Default `"30s"`. */
  reconcileInterval?: string;
  /** On shutdown, time between entering maintenance and deregistering, so callers stop picking this instance. Default `"0s"`. */
  drainDelay?: string;
}

/** How to pick the registered address when `service.address` is not set. */
export interface ConsulAddressOptions {
  /** CIDRs to pick from, in order of preference, e.g. `["10.0.0.0/8"]`. Loopback is allowed only if listed here. */
  preferredNetworks?: string[];
  /** Network interface to take the address from, e.g. `"eth0"`. */
  interface?: string;
  /** IP family. Default `4`. */
  family?: 4 | 6;
}

export interface ConsulHealthOptions {
  /** Terminus indicators that decide this instance's health for every check type. */
  indicators?: HealthIndicatorFunction[];
}

/** How services are discovered (`ConsulDiscoveryService`, `@ConsulService()` clients). */
export interface ConsulDiscoveryOptions {
  /** Longest a blocking query waits for a change. Default `"5m"`; Consul caps it at 10m. */
  wait?: string;
  /** Per watch loop: at most `burst` requests at once, refilled at `perSecond`. Default 10/s, burst 10. */
  rateLimit?: { perSecond?: number; burst?: number };
  /**
   * A query looked up with `getInstances()`/`choose()` (or a typed client) and then not again for
   * this long stops being watched; the next lookup starts a new watch. `watch()` subscriptions
   * keep theirs until they unsubscribe. Default `"10m"`.
   */
  idleTimeout?: string;
  /** Default strategy of `choose()` and the typed clients. Default `"round-robin"`. */
  loadBalancer?: LoadBalancerOption;
  /** Only instances whose checks all pass. Default `true`. */
  passingOnly?: boolean;
  /**
   * How watches (instances and configuration) read: `"default"` (Consul's default: the leader
   * answers) or `"stale"` (any server answers, usually milliseconds behind: reads spread over
   * all servers and go on through a leader election, as Consul's DNS interface does by default).
   */
  consistency?: 'default' | 'stale';
  /** Datacenters `choose()` falls back to, in order, when the local one has no instance. */
  failoverDatacenters?: string[];
  /** Consul's DNS interface for `resolveDns()`. Default: `consul.host`, port 8600. */
  dns?: { host?: string; port?: number };
}

/** Options of `ConsulModule.forRoot()` / `forRootAsync()`. */
export interface ConsulModuleOptions {
  consul?: ConsulConnectionOptions;
  /**
   * This app, as registered in Consul. Leave it out for an app that only discovers other services
   * or reads configuration (a gateway, a worker, a CLI): then nothing is registered.
   */
  service?: ConsulServiceOptions;
  registration?: ConsulRegistrationOptions;
  address?: ConsulAddressOptions;
  health?: ConsulHealthOptions;
  discovery?: ConsulDiscoveryOptions;
  /** Configuration from Consul KV (`ConsulConfigService`). Off unless set. */
  config?: ConsulConfigOptions;
}
