import { Controller, Inject } from '@nestjs/common';
import type { Microservices } from '../common/optional-peers.js';
import { concat, distinctUntilChanged, exhaustMap, map, NEVER, type Observable, of, timer } from 'rxjs';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import { ConsulHealthService } from '../health/consul-health.service.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { ConsulCheckPulse } from '../health/check-pulse.js';
import { GRPC_HEALTH_WATCH_INTERVAL_MS, GrpcServingStatus } from './grpc-health.js';

const GRPC_NOT_FOUND = 5;

/** Nest's RpcException, once {@link grpcHealthController} has bound the methods. */
let RpcException: Microservices['RpcException'] | undefined;

/**
 * `grpc.health.v1.Health` (`Check` and `Watch`), answered from the Terminus indicators. Served by
 * Nest's gRPC server when its options include the health proto (see `withGrpcHealth`); inert
 * elsewhere. Used through {@link grpcHealthController}, which binds its gRPC methods.
 */
@Controller()
export class ConsulGrpcHealthController {
  constructor(
    private readonly health: ConsulHealthService,
    @Inject(CONSUL_RESOLVED_OPTIONS) private readonly options: ResolvedConsulOptions,
    private readonly pulse: ConsulCheckPulse,
  ) {}

  async check(request: { service?: string }): Promise<{ status: GrpcServingStatus }> {
    const service = request?.service ?? '';
    if (!this.knows(service))
      throw new RpcException!({ code: GRPC_NOT_FOUND, message: `unknown service "${service}"` });
    // Consul's GRPC check calls Check; its calls stopping is the sign that the agent forgot us.
    this.pulse.beat('grpc');
    return { status: await this.status() };
  }

  /**
   * The status now, then each change, until the client cancels (Nest unsubscribes then). As the
   * health protocol says, an unknown service gets SERVICE_UNKNOWN and the stream stays open.
   */
  watch(request: { service?: string }): Observable<{ status: GrpcServingStatus }> {
    if (!this.knows(request?.service ?? '')) return concat(of({ status: GrpcServingStatus.SERVICE_UNKNOWN }), NEVER);
    return timer(0, GRPC_HEALTH_WATCH_INTERVAL_MS).pipe(
      exhaustMap(() => this.status()), // a slow indicator never stacks runs
      distinctUntilChanged(),
      map((status) => ({ status })),
    );
  }

  /** '' is the whole server (what Consul asks by default); each registered name is an alias of it. */
  private knows(service: string): boolean {
    return (
      service === '' ||
      service === this.options.service?.name ||
      this.options.microservices.some(({ name }) => name === service)
    );
  }

  private async status(): Promise<GrpcServingStatus> {
    const result = await this.health.check();
    return result.status === 'ok' ? GrpcServingStatus.SERVING : GrpcServingStatus.NOT_SERVING;
  }
}

/**
 * The controller with `check` and `watch` bound as `Health/Check` and `Health/Watch`, with
 * `@nestjs/microservices`' own `GrpcMethod` applied as the decorator it is. Bound here rather than
 * written on the methods so that this file imports nothing from that optional package: it is
 * loaded with the rest of ours, and an app's start-up awaits no import() of it (~3 ms idle).
 */
export function grpcHealthController(microservices: Microservices): typeof ConsulGrpcHealthController {
  if (!RpcException) {
    const prototype = ConsulGrpcHealthController.prototype;
    for (const [method, rpc] of [
      ['check', 'Check'],
      ['watch', 'Watch'],
    ] as const) {
      microservices.GrpcMethod('Health', rpc)(prototype, method, Object.getOwnPropertyDescriptor(prototype, method)!);
    }
    RpcException = microservices.RpcException;
  }
  return ConsulGrpcHealthController;
}
