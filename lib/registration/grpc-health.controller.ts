import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { concat, distinctUntilChanged, exhaustMap, map, NEVER, type Observable, of, timer } from 'rxjs';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import { ConsulHealthService } from '../health/consul-health.service.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { ConsulCheckPulse } from './check-pulse.js';
import { GRPC_HEALTH_WATCH_INTERVAL_MS, GrpcServingStatus } from './grpc-health.js';

const GRPC_NOT_FOUND = 5;

/**
 * `grpc.health.v1.Health` (`Check` and `Watch`), answered from the Terminus indicators. Loaded
 * only by `ConsulGrpcHealthModule`, where `@nestjs/microservices` is installed. Bound by Nest's gRPC
 * server when its options include the health proto (see `withGrpcHealth`); inert elsewhere.
 */
@Controller()
export class ConsulGrpcHealthController {
  constructor(
    private readonly health: ConsulHealthService,
    @Inject(CONSUL_RESOLVED_OPTIONS) private readonly options: ResolvedConsulOptions,
    private readonly pulse: ConsulCheckPulse,
  ) {}

  @GrpcMethod('Health', 'Check')
  async check(request: { service?: string }): Promise<{ status: GrpcServingStatus }> {
    const service = request?.service ?? '';
    if (!this.knows(service)) throw new RpcException({ code: GRPC_NOT_FOUND, message: `unknown service "${service}"` });
    // Consul's GRPC check calls Check; its calls stopping is the sign that the agent forgot us.
    this.pulse.beat();
    return { status: await this.status() };
  }

  /**
   * The status now, then each change, until the client cancels (Nest unsubscribes then). As the
   * health protocol says, an unknown service gets SERVICE_UNKNOWN and the stream stays open.
   */
  @GrpcMethod('Health', 'Watch')
  watch(request: { service?: string }): Observable<{ status: GrpcServingStatus }> {
    if (!this.knows(request?.service ?? '')) return concat(of({ status: GrpcServingStatus.SERVICE_UNKNOWN }), NEVER);
    return timer(0, GRPC_HEALTH_WATCH_INTERVAL_MS).pipe(
      exhaustMap(() => this.status()), // a slow indicator never stacks runs
      distinctUntilChanged(),
      map((status) => ({ status })),
    );
  }

  /** '' is the whole server (what Consul asks by default); the registered name is an alias of it. */
  private knows(service: string): boolean {
    return service === '' || service === this.options.service?.name;
  }

  private async status(): Promise<GrpcServingStatus> {
    const result = await this.health.check();
    return result.status === 'ok' ? GrpcServingStatus.SERVING : GrpcServingStatus.NOT_SERVING;
  }
}
