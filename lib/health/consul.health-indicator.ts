import type { HealthIndicatorResult } from '@nestjs/terminus';
import { ConsulApi } from '../consul-api/consul-api.js';
import { parseDuration } from '../options/duration.js';
import { LazyTerminus } from './lazy-terminus.js';

/**
 * Terminus indicator for your own health endpoints: is Consul there and does it have a leader?
 * Sends the configured ACL token like every other call.
 */
export class ConsulHealthIndicator {
  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly client: ConsulApi,
    private readonly terminus: LazyTerminus,
  ) {}

  /** Up when the agent answers within `timeout` (ms or a duration like "1s"; default 1s) and the cluster has a leader. */
  async pingCheck(key: string, options: { timeout?: number | string } = {}): Promise<HealthIndicatorResult> {
    const indicator = (await this.terminus.load()).indicators.check(key);
    const timeoutMs =
      typeof options.timeout === 'string'
        ? parseDuration(options.timeout, 'pingCheck timeout')
        : (options.timeout ?? 1_000);
    try {
      const leader = await this.client.leader(timeoutMs);
      if (!leader) return indicator.down({ agent: this.client.address, message: 'the Consul cluster has no leader' });
      return indicator.up({ agent: this.client.address, leader });
    } catch (error) {
      return indicator.down({ agent: this.client.address, message: (error as Error).message });
    }
  }
}
