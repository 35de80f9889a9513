// The closing line of npm test (scripts/test.sh): reads `name|exit code|Jest JSON file` lines on
// stdin, one per phase, prints each phase's counts and then `N passed, N failed` summed over all
// phases, and exits 1 if any phase failed.
//
// A phase that failed without a failed test to show for it (it crashed before writing its JSON,
// a suite did not compile, an install failed) counts as one failed test, so the closing line never
// reads `…, 0 failed` for a run that failed.
import { readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let ok = true;
for (const line of readFileSync(0, 'utf8').split('\n').filter(Boolean)) {
  const [name, code, json] = line.split('|');
  let counts;
  try {
    counts = JSON.parse(readFileSync(json, 'utf8'));
  } catch {
    counts = undefined; // no file, or half of one
  }
  const phasePassed = counts?.numPassedTests ?? 0;
  // A suite that fails to run (a syntax error, a throw at import) has no failed test of its own.
  let phaseFailed = (counts?.numFailedTests ?? 0) + (counts?.numRuntimeErrorTestSuites ?? 0);
  const broken = code !== '0' || !counts || counts.success !== true;
  if (broken && phaseFailed === 0) phaseFailed = 1;
  if (broken) ok = false;
  passed += phasePassed;
  failed += phaseFailed;
  const why = broken ? ` (exit code ${code}${counts ? '' : ', no results: it stopped before writing them'})` : '';
  console.log(`npm test, ${name}: passed ${phasePassed}, failed ${phaseFailed}${why}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = ok ? 0 : 1;
