import { LOG_CONTEXT } from '../consul.constants.js';
import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { filter, type Subscription } from 'rxjs';
import { findDecoratedMethods } from '../common/decorated-methods.js';
import { splitPath } from './config-paths.js';
import { ConsulConfigService } from './consul-config.service.js';
import { CONSUL_CONFIG_CHANGE } from './on-consul-config-change.decorator.js';

/** Finds `@OnConsulConfigChange()` methods and feeds them the changes under their path. */
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
    const handlers = findDecoratedMethods(
      CONSUL_CONFIG_CHANGE,
      this.discovery,
      this.scanner,
      (method) => this.reflector.get<string | undefined>(CONSUL_CONFIG_CHANGE, method),
      this.logger,
      (path, where) => `@OnConsulConfigChange('${path}') on ${where} is ignored`,
    );
    for (const { instance, method, metadata: path } of handlers) this.subscribe(instance, method, path);
  }

  onApplicationShutdown(): void {
    this.subscriptions.splice(0).forEach((s) => s.unsubscribe());
  }

  private subscribe(instance: Record<string | symbol, unknown>, method: string, path: string): void {
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
