/**
 * The base of every error this package throws, so an app can tell ours apart from the rest in
 * one `instanceof` (an exception filter, a retry rule). Each subclass names what failed and what
 * to do about it.
 */
export class ConsulKitError extends Error {
  override readonly name: string = 'ConsulKitError';
}
