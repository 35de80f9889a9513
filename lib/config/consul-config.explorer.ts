import { LOG_CONTEXT } from '../consul.constants.js';
import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { filter, type Subscription } from 'rxjs';
import { splitPath } from './config-paths.js';
import { ConsulConfigService } from './consul-config.service.js';
import { CONSUL_CONFIG_CHANGE } from './on-consul-config-change.decorator.js';

/** Finds `@OnConsulConfigChange()` methods and feeds them the changes under their path. */
@Injectable()
export class ConsulConfigExplorer implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.config);
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly config: ConsulConfigService,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      for (const method of this.scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
        const path = this.reflector.get<string | undefined>(CONSUL_CONFIG_CHANGE, instance[method] as () => void);
        if (path === undefined) continue;
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(
            `@OnConsulConfigChange('${path}') on ${wrapper.name}.${method} is ignored: the provider is request-scoped`,
          );
          continue;
        }
        this.subscribe(instance, method, path);
      }
    }
  }

  onApplicationShutdown(): void {
    this.subscriptions.splice(0).forEach((s) => s.unsubscribe());
  }

  private subscribe(instance: Record<string, unknown>, method: string, path: string): void {
    const wanted = splitPath(path).join('.');
    const subscription = this.config.changes$
      .pipe(filter((change) => wanted === '' || change.path === wanted || change.path.startsWith(`${wanted}.`)))
      .subscribe(async (change) => {
        try {
          await (instance[method] as (c: typeof change) => unknown).call(instance, change);
        } catch (error) {
          this.logger.error(
            `@OnConsulConfigChange('${path}') handler ${instance.constructor.name}.${method} failed: ${(error as Error).message}`,
          );
        }
      });
    this.subscriptions.push(subscription);
  }
}
