import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { CONSUL_RESOLVED_OPTIONS } from '../consul.constants.js';
import { ConsulHealthService } from '../health/consul-health.service.js';
import type { ResolvedConsulOptions } from '../options/resolved-options.js';

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
export enum GrpcServingStatus {
  UNKNOWN = 0,
  SERVING = 1,
  NOT_SERVING = 2,
  SERVICE_UNKNOWN = 3,
}

const GRPC_NOT_FOUND = 5;

/**
 * `grpc.health.v1.Health/Check`, answered from the Terminus indicators. Bound by Nest's gRPC
 * server when its options include the health proto (see `withGrpcHealth`); inert elsewhere.
 */
@Controller()
export class ConsulGrpcHealthController {
  constructor(
    private readonly health: ConsulHealthService,
    @Inject(CONSUL_RESOLVED_OPTIONS) private readonly options: ResolvedConsulOptions,
  ) {}

  @GrpcMethod('Health', 'Check')
  async check(request: { service?: string }): Promise<{ status: GrpcServingStatus }> {
    const service = request?.service ?? '';
    // '' is the whole server (what Consul asks by default); the registered name is an alias of it.
    if (service !== '' && service !== this.options.service?.name) {
      throw new RpcException({ code: GRPC_NOT_FOUND, message: `unknown service "${service}"` });
    }
    const result = await this.health.check();
    return { status: result.status === 'ok' ? GrpcServingStatus.SERVING : GrpcServingStatus.NOT_SERVING };
  }
}
