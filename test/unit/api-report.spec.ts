import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Extractor, ExtractorConfig, type ExtractorMessage } from '@microsoft/api-extractor';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REPORT = join(ROOT, 'etc', 'nestjs-consul-kit.api.md');

/** The exported names the committed report lists (`export class X`, `export type Y`…). */
function reportedNames(): string[] {
  const report = readFileSync(REPORT, 'utf8');
  const names = [
    ...report.matchAll(/^export (?:declare )?(?:abstract )?(?:class|interface|type|function|const|enum) (\w+)/gm),
  ];
  return names.map((match) => match[1]);
}

// The public surface is what dist/index.d.ts declares once `stripInternal` has removed what is
// tagged @internal. This spec compares it with the committed report, so a change to the API is a
// change to etc/nestjs-consul-kit.api.md that a reviewer sees: run `npm run api:update` to accept it.
describe('public API report', () => {
  beforeAll(() => {
    // npm test has built already, and then this does nothing (scripts/build.sh skips a fresh dist/);
    // a unit run alone must not compare the report with a stale dist/.
    execFileSync('bash', [join(ROOT, 'scripts', 'build.sh')], { cwd: ROOT, stdio: 'pipe' });
  }, 120_000);

  it('matches etc/nestjs-consul-kit.api.md', () => {
    expect(existsSync(join(ROOT, 'dist', 'index.d.ts'))).toBe(true);
    const config = ExtractorConfig.loadFileAndPrepare(join(ROOT, 'api-extractor.json'));
    const messages: string[] = [];
    const result = Extractor.invoke(config, {
      // Check mode: compare with the committed report, never rewrite it.
      localBuild: false,
      messageCallback: (message: ExtractorMessage) => {
        messages.push(message.formatMessageWithLocation(ROOT));
        message.handled = true; // collected here, printed by the assertion below rather than on the console
      },
    });
    const hint =
      'The public API differs from etc/nestjs-consul-kit.api.md. If the change is intended, run ' +
      '`npm run api:update` and commit the report (with a CHANGELOG line); else make the new names @internal ' +
      'or stop exporting them. What changed: diff etc/nestjs-consul-kit.api.md ' +
      'node_modules/.cache/api-extractor/nestjs-consul-kit.api.md\n' +
      messages.join('\n');
    expect({ succeeded: result.succeeded, apiReportChanged: result.apiReportChanged, hint }).toEqual({
      succeeded: true,
      apiReportChanged: false,
      hint,
    });
  }, 120_000);

  it('lists only names the README documents', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const names = reportedNames();
    expect(names.length).toBeGreaterThan(50);
    const undocumented = names.filter((name) => !new RegExp(`\\b${name}\\b`).test(readme));
    expect(undocumented).toEqual([]);
  });
});
