import { LazyModuleLoader } from '@nestjs/core';
import type { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';

interface Terminus {
  healthCheck: HealthCheckService;
  indicators: HealthIndicatorService;
}

/**
 * `@nestjs/terminus`, loaded (module and ~20 providers) the first time an indicator has to run,
 * through Nest's own `LazyModuleLoader`. Most apps register no indicator of their own: for them
 * Terminus is never loaded, which shortens importing this package and each app's start-up. An app that imports `TerminusModule` itself shares that one module.
 */
export class LazyTerminus {
  private terminus?: Promise<Terminus>;

  constructor(private readonly modules: LazyModuleLoader) {}

  /** Terminus's services; a failed load is tried again next time. */
  load(): Promise<Terminus> {
    this.terminus ??= import('@nestjs/terminus')
      .then(async ({ TerminusModule, HealthCheckService, HealthIndicatorService }) => {
        const module = await this.modules.load(() => TerminusModule, { logger: false });
        return { healthCheck: module.get(HealthCheckService), indicators: module.get(HealthIndicatorService) };
      })
      .catch((error: unknown) => {
        this.terminus = undefined;
        throw error;
      });
    return this.terminus;
  }
}
