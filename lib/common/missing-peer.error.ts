import { ConsulKitError } from './consul-kit.error.js';

/** The error for a feature used without the optional peer it needs, with the install command. */
export class MissingPeerError extends ConsulKitError {
  override readonly name = 'MissingPeerError';

  constructor(
    /** What needs it, e.g. `ConsulClientProxy`. */
    readonly feature: string,
    /** The npm packages to install. */
    readonly packages: readonly string[],
  ) {
    super(
      `${feature} needs ${packages.join(' and ')}, which ${packages.length > 1 ? 'are' : 'is'} not installed: ` +
        `npm install ${packages.join(' ')}`,
    );
  }
}
