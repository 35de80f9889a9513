import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every TypeScript source of the library (specs included: they ship no code but set examples). */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('the Consul adapter uses the consul package through its public API only', () => {
  const files = sources(join(process.cwd(), 'lib'));

  it('finds the adapter (guards the checks below against an empty list)', () => {
    expect(files.map((file) => file.slice(process.cwd().length + 1))).toContain('lib/consul-api/consul-api.ts');
  });

  it.each([
    ['the private request pipeline', /\b_request\b|\._(get|put|delete|post)\(/],
    ['untyped casts', /\bas any\b|<any>/],
    ['papi, the package internals', /from ['"]papi['"]|require\(['"]papi['"]\)/],
    ['the package internals by path', /['"]consul\/lib\//],
  ])('no file under lib/ reaches for %s', (_what, pattern) => {
    const offenders = files.filter((file) => pattern.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
