import { createRequire } from 'node:module';
import { loadedOtelApi, otelApiInUse } from './otel-api.js';

const require = createRequire(import.meta.url);
const apiLoaded = () => Object.keys(require.cache).some((path) => path.includes('@opentelemetry/api'));

describe('otelApiInUse', () => {
  it('does not load the API while nothing in the process has, then takes the copy that was loaded', () => {
    expect(apiLoaded()).toBe(false);
    expect(otelApiInUse()).toBeUndefined();
    expect(loadedOtelApi()).toBeUndefined();
    expect(apiLoaded()).toBe(false); // asking did not load it

    const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api'); // as an SDK's setup would
    expect(otelApiInUse()).toBe(api);
    expect(loadedOtelApi()).toBe(api);
  });
});
