import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { optionalRequire } from '../common/optional-peers.js';

type OtelApi = typeof import('@opentelemetry/api');

const require = createRequire(import.meta.url);
const API_DIR = `${sep}node_modules${sep}@opentelemetry${sep}api${sep}`;
let loaded: OtelApi | undefined;

/**
 * `@opentelemetry/api` when the app uses it, else `undefined` (then this package reports nothing
 * and costs nothing). Loaded synchronously with `require`, once: the metrics are created while
 * the app is created, and the API keeps its state on `globalThis`, so the copy we load and the one
 * the app's SDK registers with agree even across CommonJS and ESM.
 *
 * "Uses it" means some copy of the API is already loaded in the process. An SDK registers its
 * providers through the API, so until something loads it, every meter and tracer is a no-op and
 * loading it ourselves (start-up time, more than the rest of our metrics) would buy nothing.
 * That holds for any copy, and the copies share their globals: we look for any of them among the
 * modules Node has loaded (`require.cache`, which ESM imports of the API, a CommonJS package, fill
 * too). As before, the SDK must be started before `NestFactory.create()`.
 */
export function otelApiInUse(): OtelApi | undefined {
  if (!loaded && Object.keys(require.cache).some((path) => path.includes(API_DIR))) {
    loaded = optionalRequire<OtelApi>('@opentelemetry/api');
  }
  return loaded;
}

/** The API if {@link otelApiInUse} loaded it, without looking again: for the hot paths. */
export function loadedOtelApi(): OtelApi | undefined {
  return loaded;
}
