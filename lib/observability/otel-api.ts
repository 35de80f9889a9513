import { optionalRequire } from '../common/optional-peers.js';

type OtelApi = typeof import('@opentelemetry/api');

/**
 * `@opentelemetry/api`, or `undefined` when the app does not install it (then this package
 * reports nothing and costs nothing). Loaded synchronously with `require`, once: the metrics are
 * created while the app is created, and the API keeps its state on `globalThis`, so the copy we
 * load and the one the app's SDK registers with agree even across CommonJS and ESM.
 */
export function optionalOtelApi(): OtelApi | undefined {
  return optionalRequire<OtelApi>('@opentelemetry/api');
}
