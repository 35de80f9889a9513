import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as api from '../../lib/index.js';

const LIB = fileURLToPath(new URL('../../lib', import.meta.url));

/** Every error class declared in lib/ (outside specs), by name. */
function declaredErrorClasses(): string[] {
  const files = readdirSync(LIB, { recursive: true, encoding: 'utf8' }).filter(
    (file) => file.endsWith('.ts') && !file.endsWith('.spec.ts') && !file.endsWith('.d.ts'),
  );
  return files.flatMap((file) =>
    [...readFileSync(join(LIB, file), 'utf8').matchAll(/class (\w+) extends (?:ConsulKitError|Error|\w+Error)\b/g)].map(
      (match) => match[1],
    ),
  );
}

describe('errors', () => {
  const errorClasses = (Object.entries(api) as Array<[string, unknown]>).filter(
    (entry): entry is [string, new (...args: never[]) => Error] =>
      typeof entry[1] === 'function' && entry[0].endsWith('Error') && entry[0] !== 'ConsulKitError',
  );

  it('exports the error classes users catch', () => {
    // Guards the filter below: an export list that lost its errors would make the next test vacuous.
    expect(errorClasses.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'ConsulOptionsError',
        'ConsulRequestError',
        'NoAvailableInstanceError',
        'MissingPeerError',
        'ConsulKitUsageError',
        'UpstreamHttpResponseError',
        'UpstreamHttpTransportError',
      ]),
    );
  });

  it('exports every error class the package declares, so users can catch each by class', () => {
    const exported = new Set(Object.keys(api));
    expect(declaredErrorClasses().filter((name) => !exported.has(name))).toEqual([]);
  });

  it.each(errorClasses.map(([name, type]) => [name, type] as const))('%s extends ConsulKitError', (_name, type) => {
    expect(type.prototype).toBeInstanceOf(api.ConsulKitError);
    expect(type.prototype).toBeInstanceOf(Error);
  });

  it('names the called service, not Consul, in the typed HTTP client errors', () => {
    const response = new api.UpstreamHttpResponseError('billing', '10.0.0.1:80', 503, '', 'GET', '/invoices');
    expect(response.name).toBe('UpstreamHttpResponseError');
    expect(response.message).toBe('GET /invoices on service "billing" (10.0.0.1:80) answered HTTP 503');
    const usage = new api.ConsulKitUsageError('ConsulRegistrar.register()', 'there is no service to register');
    expect(usage).toBeInstanceOf(api.ConsulKitError);
    expect(usage.message).toBe('ConsulRegistrar.register(): there is no service to register');
  });
});
