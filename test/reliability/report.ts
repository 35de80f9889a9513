import { appendFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RESULTS = fileURLToPath(new URL('../../.reliability/results.jsonl', import.meta.url));

/**
 * Prints a scenario's figures and appends them to .reliability/results.jsonl, where
 * docs/reliability.md's numbers come from (one line per run, with the date).
 */
export function report(scenario: string, figures: Record<string, number | boolean | string>): void {
  const line = { scenario, at: new Date().toISOString(), ...figures };
  mkdirSync(fileURLToPath(new URL('../../.reliability/', import.meta.url)), { recursive: true });
  appendFileSync(RESULTS, `${JSON.stringify(line)}\n`);
  process.stdout.write(`[reliability] ${scenario}: ${JSON.stringify(figures)}\n`);
}
