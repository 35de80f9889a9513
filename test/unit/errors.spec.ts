import * as api from '../../lib/index.js';

describe('errors', () => {
  const errorClasses = (Object.entries(api) as Array<[string, unknown]>).filter(
    (entry): entry is [string, new (...args: never[]) => Error] =>
      typeof entry[1] === 'function' && entry[0].endsWith('Error') && entry[0] !== 'ConsulKitError',
  );

  it('exports the error classes users catch', () => {
    // Guards the filter below: an export list that lost its errors would make the next test vacuous.
    expect(errorClasses.map(([name]) => name)).toEqual(
      expect.arrayContaining(['ConsulOptionsError', 'ConsulRequestError', 'NoAvailableInstanceError']),
    );
  });

  it.each(errorClasses.map(([name, type]) => [name, type] as const))('%s extends ConsulKitError', (_name, type) => {
    expect(type.prototype).toBeInstanceOf(api.ConsulKitError);
    expect(type.prototype).toBeInstanceOf(Error);
  });
});
