import { hostPort } from '../common/host-port.js';
import type { AgentCheckDefinition, AgentServiceRegistration, CheckStatus } from '../consul-api/consul-api.types.js';
import { formatDuration } from '../options/duration.js';
import type { ConsulCheckType } from '../options/service.options.js';
import type { ResolvedServiceOptions } from '../core/consul-module.options.js';

/** What is known about this instance once the app is reachable. */
export interface InstanceEndpoint {
  id: string;
  address: string;
  /** Which rule chose `address` (said in the `Registering …` line). */
  addressChosenBy: string;
  port: number;
  checkType: ConsulCheckType;
  /** Port of the HTTP server that serves the health endpoint (`http` checks). */
  httpPort?: number;
}

/** The id of the single check registered with the service; TTL updates address it. */
export function checkIdOf(serviceId: string): string {
  return `service:${serviceId}`;
}

/**
 * Builds the agent registration payload: service and check in one call, so it is never half-registered.
 * `status` is the check's status until Consul first runs it (after a random stagger of up to one interval):
 * what the registrar found the app to be, so a healthy instance is discoverable at once. Without it, Consul's
 * default: critical. `attachedChecks`: checks other parts of the module added (the locks' liveness check).
 */
export function buildServiceDefinition(
  service: ResolvedServiceOptions,
  endpoint: InstanceEndpoint,
  status?: CheckStatus,
  attachedChecks: AgentCheckDefinition[] = [],
  { connectNative = false }: { connectNative?: boolean } = {},
): AgentServiceRegistration {
  const check = buildCheck(service, endpoint, status, connectNative);
  return {
    ID: endpoint.id,
    Name: service.name,
    Address: endpoint.address,
    Port: endpoint.port,
    Tags: service.tags,
    Meta: service.meta,
    EnableTagOverride: service.enableTagOverride,
    ...(service.weights ? { Weights: { Passing: service.weights.passing, Warning: service.weights.warning } } : {}),
    Checks: [...(check ? [check] : []), ...attachedChecks],
    ...(connectNative ? { Connect: { Native: true as const } } : {}),
  };
}

function buildCheck(
  service: ResolvedServiceOptions,
  endpoint: InstanceEndpoint,
  status: CheckStatus | undefined,
  connectNative: boolean,
): AgentCheckDefinition | undefined {
  const { check } = service;
  // A Connect-native instance serves TLS with a certificate of the mesh's CA, which the agent's
  // checks do not trust (Consul 1.8 checks take no CA): they skip verification, and the
  // instance admits certificate-less callers to its health endpoint only (README, Connect native).
  const tls = connectNative ? { TLSSkipVerify: true } : { TLSSkipVerify: check.tlsSkipVerify };
  const target = hostPort(endpoint.address, endpoint.port);
  const common: AgentCheckDefinition = {
    CheckID: checkIdOf(endpoint.id),
    ...(status ? { Status: status } : {}),
    DeregisterCriticalServiceAfter: check.deregisterCriticalServiceAfter,
  };
  const polled = { Interval: check.interval, ...(check.timeout ? { Timeout: check.timeout } : {}) };
  switch (endpoint.checkType) {
    case 'http':
      return {
        ...common,
        Name: `${service.name} HTTP health (${check.path})`,
        HTTP: `${connectNative ? 'https' : 'http'}://${hostPort(endpoint.address, endpoint.httpPort ?? endpoint.port)}${check.path}`,
        ...tls,
        ...polled,
      };
    case 'tcp':
      return {
        ...common,
        Name: `${service.name} TCP ${target}`,
        TCP: target,
        ...polled,
      };
    case 'grpc':
      return {
        ...common,
        Name: `${service.name} gRPC health`,
        GRPC: target,
        ...(connectNative ? { GRPCUseTLS: true } : {}),
        ...tls,
        ...polled,
      };
    case 'ttl':
      // The next heartbeat, at 2/3 TTL, confirms (or corrects) the status registered here.
      return {
        ...common,
        Name: `${service.name} TTL heartbeat`,
        TTL: formatDuration(check.ttlMs),
        Status: status ?? 'critical',
      };
    case 'none':
      return undefined;
  }
}
