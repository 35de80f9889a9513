import { createRequire } from 'node:module';
import { MissingPeerError } from './missing-peer.error.js';

// Re-exported so the loaders keep one import; the class lives with the other error classes.
export { MissingPeerError };

export type Microservices = typeof import('@nestjs/microservices');
type GrpcJs = typeof import('@grpc/grpc-js');

let microservices: Promise<Microservices | undefined> | undefined;

/**
 * `@nestjs/microservices`, or `undefined` in an app that does not install it (an HTTP-only
 * app). Loaded on first use with `import()`, never at the package's own import: Nest 12 ships it
 * as ESM, which cannot be required synchronously everywhere, and an app without it must still
 * load this package. A broken install (anything but "not found") is rethrown.
 */
export function loadMicroservices(): Promise<Microservices | undefined> {
  microservices ??= import('@nestjs/microservices').catch((error: NodeJS.ErrnoException) => {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  });
  return microservices;
}

/** `@nestjs/microservices`, or a {@link MissingPeerError} naming `feature`. */
export async function requireMicroservices(feature: string): Promise<Microservices> {
  const loaded = await loadMicroservices();
  if (!loaded) throw new MissingPeerError(feature, ['@nestjs/microservices']);
  return loaded;
}

const required = new Map<string, unknown>();

/**
 * An optional peer loaded with CommonJS `require`, once, or `undefined` when it is not installed.
 * Another failure (a broken install) is thrown, not mistaken for absence.
 */
export function optionalRequire<T>(name: string): T | undefined {
  if (!required.has(name)) {
    try {
      required.set(name, createRequire(import.meta.url)(name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
      required.set(name, undefined);
    }
  }
  return required.get(name) as T | undefined;
}

/**
 * Whether an optional peer is installed, without loading it: for what only needs to know (loading
 * one, grpc-js above all, is a visible part of start-up).
 */
export function isInstalled(name: string): boolean {
  if (required.get(name) !== undefined) return true;
  try {
    createRequire(import.meta.url).resolve(name);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    return false;
  }
}

/**
 * `@grpc/grpc-js`, or `undefined` when it is not installed. Loaded the way Nest's gRPC
 * transport loads it (CommonJS `require`), so the resolver and policy we register and the
 * channels Nest creates share one module instance.
 */
export function optionalGrpcJs(): GrpcJs | undefined {
  return optionalRequire<GrpcJs>('@grpc/grpc-js');
}
