import type { Logger } from '@nestjs/common';
import type { DiscoveryService, MetadataScanner } from '@nestjs/core';

export interface DecoratedMethod<T> {
  instance: Record<string | symbol, unknown>;
  method: string;
  metadata: T;
}

/**
 * Every method of the app's providers and controllers on which `read` finds metadata (what an
 * `*.explorer.ts` looks for, as @nestjs/bull's and @nestjs/schedule's do). Request-scoped
 * providers are left out with a warning (`ignored` says what is ignored where): their instances
 * are made per request, long after this scan.
 */
export function findDecoratedMethods<T>(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  read: (method: () => unknown) => T | undefined,
  logger: Pick<Logger, 'warn'>,
  ignored: (metadata: T, where: string) => string,
): Array<DecoratedMethod<T>> {
  const found: Array<DecoratedMethod<T>> = [];
  for (const wrapper of [...discovery.getProviders(), ...discovery.getControllers()]) {
    const instance = wrapper.instance as Record<string | symbol, unknown> | undefined;
    if (!instance || typeof instance !== 'object') continue;
    for (const method of scanner.getAllMethodNames(Object.getPrototypeOf(instance))) {
      const metadata = read(instance[method] as () => unknown);
      if (metadata === undefined) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        logger.warn(`${ignored(metadata, `${wrapper.name}.${method}`)}: the provider is request-scoped`);
        continue;
      }
      found.push({ instance, method, metadata });
    }
  }
  return found;
}
