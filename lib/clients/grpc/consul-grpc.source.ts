import type { OnApplicationShutdown } from '@nestjs/common';
import { ConsulDiscoveryService } from '../../discovery/consul-discovery.service.js';
import { registerInstanceSource } from './consul-grpc.resolver.js';

/** Connects this app's discovery to the `consul:` gRPC resolver, on first use (so grpc-js stays optional). */
export class ConsulGrpcSource implements OnApplicationShutdown {
  private registration?: { id: string; unregister(): void };

  constructor(private readonly discovery: ConsulDiscoveryService) {}

  /** The authority to put in `consul://<id>/<service>` targets of this app. */
  get id(): string {
    this.registration ??= registerInstanceSource((service, query) => this.discovery.watch(service, query));
    return this.registration.id;
  }

  onApplicationShutdown(): void {
    this.registration?.unregister();
  }
}
