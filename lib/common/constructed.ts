import type { Abstract, FactoryProvider, OptionalFactoryDependency } from '@nestjs/common';

/** What stands for a constructor parameter of type `T`: its class, a string or symbol token, or an optional one. */
export type Dependency<T> = Abstract<T> | string | symbol | OptionalFactoryDependency;

/**
 * The provider of one of our own classes: `new type(...inject)`, as Nest's class provider would
 * make it, with the dependencies listed instead of reflected.
 *
 * Nest reflects every class provider at start-up: its constructor's parameter types, and five
 * kinds of enhancer metadata (guards, interceptors, filters, pipes, route params) on each of its
 * methods. Our classes take no enhancers, and that reflection showed in the start-up profiles of
 * bench table 6. A class token in `inject` is checked
 * against the parameter's type, so the list cannot drift from the constructor unnoticed.
 */
export function constructed<T, A extends unknown[]>(
  type: new (...args: A) => T,
  inject: { [K in keyof A]: Dependency<A[K]> },
): FactoryProvider<T> {
  return { provide: type, useFactory: (...args: A) => new type(...args), inject: inject as Dependency<unknown>[] };
}
