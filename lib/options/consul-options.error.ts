import { ConsulKitError } from '../common/consul-kit.error.js';
/** One thing wrong with the module options. */
export interface OptionProblem {
  /** Path of the option, e.g. `service.check.interval`. */
  option: string;
  /** What is wrong, including the bad value unless it is a secret. */
  problem: string;
  /** What to do about it. */
  fix?: string;
}

/**
 * Thrown when the options of `ConsulModule`, `ConsulConfigModule` or a `forFeature()` client are
 * invalid, and the rejection of a `ConsulDiscoveryService` call given an invalid `DiscoveryQuery`.
 * Lists every problem found, so a user fixes them in one go; raised before anything is sent to Consul.
 */
export class ConsulOptionsError extends ConsulKitError {
  override readonly name = 'ConsulOptionsError';

  constructor(
    readonly problems: readonly OptionProblem[],
    /** The module whose options these are, as the user wrote it (`ConsulModule`, `ConsulConfigModule`). */
    readonly moduleName = 'ConsulModule',
  ) {
    super(
      `Invalid ${moduleName} options:\n` +
        problems.map((p) => `  - ${p.option}: ${p.problem}${p.fix ? `; ${p.fix}` : ''}`).join('\n'),
    );
  }
}
