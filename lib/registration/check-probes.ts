import type { Logger } from '@nestjs/common';
import { Backoff } from '../common/backoff.js';
import { hostPort } from '../common/host-port.js';
import { AGAIN, retryUntil } from '../common/retry.js';
import { sleep } from '../common/sleep.js';
import type { CheckStatus } from '../consul-api/consul-api.types.js';
import type { ConsulHealthService } from '../health/consul-health.service.js';
import { probeGrpcHealth } from './grpc-health.probe.js';
import { acceptsConnections } from './port-waiter.js';
import type { InstanceEndpoint } from './service-definition.js';
import { checkStatusOf } from './ttl-heartbeat.js';

// What the registrar asks of the app itself, per check type, before it registers: the probes,
// out of the registration's state machine.

/** Who asks, for the gRPC probe's log line, and how long it may wait. */
export interface GrpcProbeContext {
  /** Service name. */
  service: string;
  /** Its options path (`service`, `microservices[0]`), for the fix in the log line. */
  path: string;
  timeoutMs: number;
  logger: Logger;
  /** The app's lifetime: the probe stops with it. */
  signal: AbortSignal;
  /** Connect native: the gRPC server speaks TLS only, so the probe does too. */
  tls: boolean;
}

/**
 * The check's status until Consul first runs it (after a random stagger of up to one interval):
 * the app as the registrar finds it now, so a healthy instance is discoverable at once and a failing
 * one is never passing. `http`: the Terminus indicators; `tcp`: the port accepted a connection (or the
 * HTTP server listens); `grpc`: the gRPC health service said SERVING. `ttl`: none (critical): the first
 * heartbeat, sent right after registration, sets it with the indicators' output.
 */
export async function initialCheckStatus(
  endpoint: InstanceEndpoint,
  health: Pick<ConsulHealthService, 'check'>,
  timeoutMs: number,
  signal: AbortSignal,
  /** Connect native: probe the gRPC health service over TLS, as Consul's check does. */
  { grpcTls = false }: { grpcTls?: boolean } = {},
): Promise<CheckStatus | undefined> {
  switch (endpoint.checkType) {
    case 'ttl':
    case 'none':
      return undefined;
    case 'http': {
      // A slow indicator delays nothing past consul.timeout: then it is critical until Consul asks.
      const done = new AbortController();
      const timeout = sleep(timeoutMs, AbortSignal.any([signal, done.signal]));
      try {
        return await Promise.race([health.check().then(checkStatusOf), timeout.then(() => 'critical' as const)]);
      } finally {
        done.abort();
      }
    }
    case 'tcp':
      // The first time, awaitInstanceEndpoint has just seen the port accept a connection; again after
      // the agent lost us, ask once more.
      return (await acceptsConnections(endpoint.address, endpoint.port)) ? 'passing' : 'critical';
    case 'grpc':
      return (await probeGrpcHealth(grpcTarget(endpoint), timeoutMs, { tls: grpcTls })) === 'serving'
        ? 'passing'
        : 'critical';
  }
}

/** For `grpc` checks: waits until the server answers gRPC and refuses to register one that serves no health service. */
export async function grpcHealthServed(
  endpoint: InstanceEndpoint,
  { service, path, timeoutMs, logger, signal, tls }: GrpcProbeContext,
): Promise<boolean> {
  if (endpoint.checkType !== 'grpc') return true;
  const target = grpcTarget(endpoint);
  const served = await retryUntil(
    async () => {
      const result = await probeGrpcHealth(target, timeoutMs, { tls });
      if (result === 'unimplemented') {
        logger.error(
          `Not registering service "${service}": ${path}.check.type is "grpc" but the gRPC server at ${target} ` +
            'does not serve grpc.health.v1.Health. Add it to the microservice options with withGrpcHealth({ package, protoPath, url }).',
        );
        return false;
      }
      return result === 'unreachable' ? AGAIN : true;
    },
    { backoff: new Backoff(100, 2_000), signal },
  );
  return served ?? false;
}

function grpcTarget(endpoint: InstanceEndpoint): string {
  return hostPort(endpoint.address, endpoint.port);
}
