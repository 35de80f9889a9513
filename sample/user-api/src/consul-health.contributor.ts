import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ConsulHealthIndicator, ConsulHealthService } from 'nestjs-consul-kit';

/** Adds "can we reach Consul" to the health that Consul's HTTP check reads at /health. */
@Injectable()
export class ConsulHealthContributor implements OnModuleInit {
  constructor(
    private readonly health: ConsulHealthService,
    private readonly consul: ConsulHealthIndicator,
  ) {}

  onModuleInit() {
    this.health.addIndicator(() => this.consul.pingCheck('consul', { timeout: '1s' }));
  }
}
