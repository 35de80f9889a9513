import { markedMetadata } from '../common/decorated-methods.js';

export const CONSUL_CONFIG_CHANGE = 'CONSUL:CONFIG_CHANGE';

/**
 * Calls the decorated method with `{ path, previous, current }` whenever a configuration leaf at
 * `path` or below it changes (`'db'` matches `db.host` and `db.port`). Singleton providers only.
 */
export const OnConsulConfigChange = (path: string): MethodDecorator =>
  markedMetadata(CONSUL_CONFIG_CHANGE, CONSUL_CONFIG_CHANGE, path);
