import { ConsulOptionsError, type OptionProblem } from './consul-options.error.js';
import { tryParseDuration } from './duration.js';

/**
 * The keys a section accepts, one entry per key of its input type. The mapped type makes the
 * compiler check the list both ways against the input interface, so an option added to the type
 * without its resolver (or the other way round) does not build.
 */
export type SectionKeys<T> = { readonly [K in keyof Required<T>]: true };

/**
 * Collects every problem of every option section, then throws them as one
 * {@link ConsulOptionsError}, so a user fixes all of them in one go and nothing is half-applied.
 * `at()` gives a view on one section: its checks take option names relative to it, and the
 * problems are reported with the full path (`service.check.interval`).
 */
export class Validator {
  private constructor(
    private readonly problems: OptionProblem[],
    private readonly prefix: string,
  ) {}

  static create(): Validator {
    return new Validator([], '');
  }

  /** A view on the section at `path` (relative to this one). */
  at(path: string): Validator {
    return new Validator(this.problems, this.path(path));
  }

  /** The full path of `option` in this section. */
  path(option: string): string {
    if (!this.prefix) return option;
    if (!option) return this.prefix;
    // `[0]` joins as it is; a prefix that is a phrase (`… client "orders":`) takes a space.
    if (option.startsWith('[')) return `${this.prefix}${option}`;
    return this.prefix.endsWith(':') ? `${this.prefix} ${option}` : `${this.prefix}.${option}`;
  }

  fail(option: string, problem: string, fix?: string): void {
    this.problems.push({ option: this.path(option), problem, fix });
  }

  get failed(): boolean {
    return this.problems.length > 0;
  }

  /** Throws every problem found so far, under the name of the module the user configured. */
  throwIfAny(moduleName: string): void {
    const error = this.error(moduleName);
    if (error) throw error;
  }

  /** Every problem found so far as one error (for a caller that rejects rather than throws), or undefined. */
  error(moduleName: string): ConsulOptionsError | undefined {
    return this.problems.length > 0 ? new ConsulOptionsError(this.problems, moduleName) : undefined;
  }

  /**
   * The object at `option` of this section, checked to be one and to hold only `keys`
   * (an unknown key names the closest known one). Absent and not required: `{}`.
   */
  section<T>(value: unknown, option: string, keys: SectionKeys<T>, { required = false } = {}): Record<string, any> {
    if (value === undefined && !required) return {};
    if (!isObject(value)) {
      this.fail(option, value === undefined ? 'is required' : `expected an object, got ${describe(value)}`);
      return {};
    }
    const known = Object.keys(keys);
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      const near = closest(key, known);
      const where = this.at(option);
      this.fail(
        where.path(key),
        'is not an option',
        near
          ? `did you mean ${where.path(near)}?`
          : `the options here are ${known.map((name) => where.path(name)).join(', ')}`,
      );
    }
    return value;
  }

  string(value: unknown, option: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && value.trim() !== '') return value;
    this.fail(option, `expected a non-empty string, got ${describe(value)}`);
    return undefined;
  }

  boolean(value: unknown, option: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    this.fail(option, `expected true or false, got ${describe(value)}`);
    return fallback;
  }

  port(value: unknown, option: string): number | undefined {
    if (value === undefined) return undefined;
    if (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535) return value as number;
    this.fail(option, `${describe(value)} is not a port`, 'use a whole number from 1 to 65535');
    return undefined;
  }

  /** Milliseconds. `min`: the shortest accepted, with the reason given as `minReason`. */
  duration(
    value: unknown,
    option: string,
    fallback: string,
    { positive = false, min, minReason }: { positive?: boolean; min?: number; minReason?: string } = {},
  ): number {
    const ms = tryParseDuration(value === undefined ? fallback : value);
    if (ms === undefined) {
      this.fail(option, `${describe(value)} is not a duration`, 'use a number and a unit, like "500ms", "10s" or "1m"');
      return tryParseDuration(fallback)!;
    }
    if (positive && ms <= 0) {
      this.fail(option, `${describe(value)} must be longer than zero`);
      return tryParseDuration(fallback)!;
    }
    if (min !== undefined && ms < min) {
      this.fail(option, `${describe(value)} is shorter than ${minReason}`, `use ${describe(fallback)} or longer`);
      return tryParseDuration(fallback)!;
    }
    return ms;
  }

  oneOf<T extends string>(value: unknown, option: string, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (allowed.includes(value as T)) return value as T;
    const near = typeof value === 'string' ? closest(value, allowed) : undefined;
    this.fail(
      option,
      `${describe(value)} is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`,
      near ? `did you mean "${near}"?` : undefined,
    );
    return undefined;
  }

  stringArray(value: unknown, option: string): string[] {
    if (value === undefined) return [];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string' && item !== '')) return [...value];
    this.fail(option, `expected an array of non-empty strings, got ${describe(value)}`);
    return [];
  }

  positiveNumber(value: unknown, option: string, fallback: number): number {
    if (value === undefined) return fallback;
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value;
    this.fail(option, `${describe(value)} is not a number greater than zero`);
    return fallback;
  }

  /** A whole number ≥ `min`. */
  integer(value: unknown, option: string, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    if (Number.isInteger(value) && (value as number) >= min) return value as number;
    this.fail(option, `${describe(value)} is not a whole number ≥ ${min}`);
    return fallback;
  }

  pem(value: unknown, option: string): string | Buffer | undefined {
    if (value === undefined || typeof value === 'string' || Buffer.isBuffer(value)) return value;
    this.fail(option, 'must be a PEM string or a Buffer');
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A value as it goes in a message: short, and never a function's source. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return typeof value;
  }
}

/**
 * The known name a typo most likely meant (`tag` → `tags`, `intervall` → `interval`,
 * `consull` → `consul`), or undefined when none is close: at most a third of the name differs.
 */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}
