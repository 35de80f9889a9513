import { Logger } from '@nestjs/common';
import { markDecorated, markedMetadata } from '../common/decorated-methods.js';
import { LOG_CONTEXT } from '../consul.constants.js';

export const CONSUL_LEADER_ONLY = 'CONSUL:LEADER_ONLY';
export const CONSUL_LEADERSHIP_GRANTED = 'CONSUL:LEADERSHIP_GRANTED';
export const CONSUL_LEADERSHIP_REVOKED = 'CONSUL:LEADERSHIP_REVOKED';
/** Where the explorer puts the app's leader service on an instance with `@LeaderOnly` methods. */
export const LEADERS = Symbol.for('nestjs-consul-kit:leaders');
/** The family of the three decorators below, for the explorer (see markDecorated). */
export const LEADERSHIP_DECORATORS = 'CONSUL:LEADERSHIP';

/** The part of ConsulLeaderService the decorated method needs. */
interface LeaderLookup {
  isLeader(name: string): boolean;
}

const logger = new Logger(LOG_CONTEXT.locks);

/**
 * The method runs only while this instance leads the election `name` (campaigned for from boot);
 * otherwise the call is skipped, with a debug line, and returns `undefined`. Made for
 * `@nestjs/schedule` handlers, in either order:
 *
 * ```ts
 * @Cron('0 * * * * *')
 * @LeaderOnly('reports')
 * sendReports() { … }
 * ```
 * Singleton providers only.
 */
export function LeaderOnly(name: string): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const original = descriptor.value as unknown as (...args: unknown[]) => unknown;
    if (typeof original !== 'function') throw new TypeError(`@LeaderOnly('${name}') decorates methods only`);
    markDecorated(LEADERSHIP_DECORATORS, target);
    const where = `${target.constructor.name}.${String(propertyKey)}`;
    const wrapped = function (this: Record<symbol, LeaderLookup | undefined>, ...args: unknown[]): unknown {
      if (!this?.[LEADERS]?.isLeader(name)) {
        logger.debug(`Skipped ${where}: this instance does not lead "${name}"`);
        return undefined;
      }
      return original.apply(this, args);
    };
    // Decorators applied before this one (@Cron below @LeaderOnly) put their metadata on the original.
    for (const key of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapped);
    }
    Object.defineProperty(wrapped, 'name', { value: original.name });
    Reflect.defineMetadata(CONSUL_LEADER_ONLY, name, wrapped);
    (descriptor as TypedPropertyDescriptor<unknown>).value = wrapped;
    return descriptor;
  };
}

/** Called (no arguments) when this instance becomes leader of `name`. Campaigns for `name` from boot. */
export const OnLeadershipGranted = (name: string): MethodDecorator =>
  markedMetadata(LEADERSHIP_DECORATORS, CONSUL_LEADERSHIP_GRANTED, name);

/** Called (no arguments) when this instance stops leading `name` (lost, resigned or shutting down). */
export const OnLeadershipRevoked = (name: string): MethodDecorator =>
  markedMetadata(LEADERSHIP_DECORATORS, CONSUL_LEADERSHIP_REVOKED, name);
