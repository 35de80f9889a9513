import { type Logger, SetMetadata } from '@nestjs/common';
import type { DiscoveryService, MetadataScanner } from '@nestjs/core';

export interface DecoratedMethod<T> {
  instance: Record<string | symbol, unknown>;
  method: string;
  metadata: T;
}

/** Per decorator family, the prototypes that declare at least one method it decorated. */
const declaring = new Map<string, WeakSet<object>>();

/**
 * Notes that `prototype` (a method decorator's `target`) has a method decorated by `family`, so
 * {@link findDecoratedMethods} reads the methods of its instances and skips every other provider.
 */
export function markDecorated(family: string, prototype: object): void {
  let prototypes = declaring.get(family);
  if (!prototypes) declaring.set(family, (prototypes = new WeakSet()));
  prototypes.add(prototype);
}

/** A method decorator of `family` that sets `key` to `value`, as `SetMetadata` does, and marks its class. */
export function markedMetadata(family: string, key: string, value: unknown): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    markDecorated(family, target);
    return SetMetadata(key, value)(target, propertyKey, descriptor);
  };
}

/** Whether `instance` or a class it inherits from declares a method decorated by `family`. */
function inherits(family: string, instance: object): boolean {
  const prototypes = declaring.get(family);
  if (!prototypes) return false;
  for (let p = Object.getPrototypeOf(instance) as object | null; p; p = Object.getPrototypeOf(p) as object | null) {
    if (prototypes.has(p)) return true;
  }
  return false;
}

/**
 * Every method of the app's providers and controllers on which `read` finds metadata (what an
 * `*.explorer.ts` looks for, as @nestjs/bull's and @nestjs/schedule's do). Only instances of
 * classes marked by the decorators of `family` ({@link markDecorated}) are read: reading every
 * method of every provider (Nest's own among them) showed in each app's start-up, for apps that
 * mostly decorate nothing. Request-scoped providers are left out with a warning
 * (`ignored` says what is ignored where): their instances are made per request, long after this scan.
 */
export function findDecoratedMethods<T>(
  family: string,
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  read: (method: () => unknown) => T | undefined,
  logger: Pick<Logger, 'warn'>,
  ignored: (metadata: T, where: string) => string,
): Array<DecoratedMethod<T>> {
  const found: Array<DecoratedMethod<T>> = [];
  if (!declaring.has(family)) return found;
  for (const wrapper of [...discovery.getProviders(), ...discovery.getControllers()]) {
    const instance = wrapper.instance as Record<string | symbol, unknown> | undefined;
    if (!instance || typeof instance !== 'object' || !inherits(family, instance)) continue;
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
