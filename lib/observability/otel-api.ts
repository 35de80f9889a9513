import { createRequire } from 'node:module';

type OtelApi = typeof import('@opentelemetry/api');

let api: OtelApi | null | undefined;

/**
 * `@opentelemetry/api`, or `undefined` when the app does not install it (then this package
 * reports nothing and costs nothing). Loaded synchronously with `require`, once: the metrics are
 * created while the app is created, and the API keeps its state on `globalThis`, so the copy we
 * load and the one the app's SDK registers with agree even across CommonJS and ESM.
 */
export function optionalOtelApi(): OtelApi | undefined {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as OtelApi;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
      api = null;
    }
  }
  return api ?? undefined;
}
