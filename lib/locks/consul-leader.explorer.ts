import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { filter, pairwise, startWith, type Subscription } from 'rxjs';
import { findDecoratedMethods } from '../common/decorated-methods.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import { ConsulLeaderService } from './consul-leader.service.js';
import {
  CONSUL_LEADER_ONLY,
  CONSUL_LEADERSHIP_GRANTED,
  CONSUL_LEADERSHIP_REVOKED,
  LEADERS,
  LEADERSHIP_DECORATORS,
} from './leader.decorators.js';

/**
 * Finds `@LeaderOnly()`, `@OnLeadershipGranted()` and `@OnLeadershipRevoked()` methods, campaigns
 * for their elections and calls the hooks. An app without them campaigns for nothing.
 */
export class ConsulLeaderExplorer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.locks);
  private readonly subscriptions: Subscription[] = [];

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly leaders: ConsulLeaderService,
  ) {}

  // Bootstrap, not init: the registrar (whose check the session depends on) starts then too.
  onApplicationBootstrap(): void {
    const read = (method: () => unknown) => {
      const only = this.reflector.get<string | undefined>(CONSUL_LEADER_ONLY, method);
      const granted = this.reflector.get<string | undefined>(CONSUL_LEADERSHIP_GRANTED, method);
      const revoked = this.reflector.get<string | undefined>(CONSUL_LEADERSHIP_REVOKED, method);
      return only === undefined && granted === undefined && revoked === undefined
        ? undefined
        : { only, granted, revoked };
    };
    const methods = findDecoratedMethods(
      LEADERSHIP_DECORATORS,
      this.discovery,
      this.scanner,
      read,
      this.logger,
      (_, where) => `Leadership decorators on ${where} are ignored`,
    );
    for (const { instance, method, metadata } of methods) {
      const { only, granted, revoked } = metadata;
      if (only !== undefined) {
        Object.defineProperty(instance, LEADERS, { value: this.leaders, configurable: true });
        this.leaders.elect(only);
      }
      if (granted !== undefined) this.hook(instance, method, granted, true);
      if (revoked !== undefined) this.hook(instance, method, revoked, false);
    }
  }

  onApplicationShutdown(): void {
    this.subscriptions.splice(0).forEach((s) => s.unsubscribe());
  }

  private hook(instance: Record<string | symbol, unknown>, method: string, name: string, onGrant: boolean): void {
    const subscription = this.leaders
      .elect(name)
      .leader$.pipe(
        startWith(false),
        pairwise(),
        filter(([before, now]) => before !== now && now === onGrant),
      )
      .subscribe(async () => {
        try {
          await (instance[method] as () => unknown).call(instance);
        } catch (error) {
          this.logger.error(
            `Leadership hook ${instance.constructor.name}.${method} for "${name}" failed: ${(error as Error).message}`,
          );
        }
      });
    this.subscriptions.push(subscription);
  }
}
