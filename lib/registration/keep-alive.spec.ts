import type { Logger } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { AgentService } from '../consul-api/consul-api.types.js';
import type { ConsulHealthService } from '../health/consul-health.service.js';
import { ConsulCheckPulse } from '../health/check-pulse.js';
import { KeepAlive, type KeepAliveEvents } from './keep-alive.js';
import { ConsulMetrics } from '../observability/consul-metrics.js';

/** The agent's answers to "do you still have the instance?", released one at a time by the test. */
class Answers {
  readonly pending: Array<(known: boolean) => void> = [];
  readonly client = {
    agentService: () =>
      new Promise<AgentService | undefined>((resolve) =>
        this.pending.push((known) => resolve(known ? ({ ID: 'app-1' } as AgentService) : undefined)),
      ),
  } as unknown as ConsulApi;

  answer(known: boolean): Promise<void> {
    this.pending.shift()!(known);
    return new Promise((resolve) => setImmediate(resolve));
  }
}

describe('KeepAlive', () => {
  it('does not drop a reconcile asked for while a read is in flight: it asks again once that read ends', async () => {
    const answers = new Answers();
    const seen: string[] = [];
    const events: KeepAliveEvents = {
      confirmed: () => seen.push('confirmed'),
      unconfirmed: () => seen.push('unconfirmed'),
      forgotten: () => seen.push('forgotten'),
      firstCheckRan: () => undefined,
    };
    const keepAlive = new KeepAlive(
      {
        client: answers.client,
        health: {} as ConsulHealthService,
        pulse: new ConsulCheckPulse(),
        metrics: new ConsulMetrics(),
        logger: { debug: () => undefined } as unknown as Logger,
      },
      { id: 'app-1', address: '127.0.0.1', addressChosenBy: 'test', port: 1, checkType: 'tcp' },
      { reconcileIntervalMs: 60_000, retry: { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2 }, ttlMs: 10_000 },
      events,
    );
    try {
      keepAlive.reconcileNow(); // a read goes out (the agent is still the old one)
      keepAlive.reconcileNow(); // the agent came back empty meanwhile: must not be lost
      expect(answers.pending).toHaveLength(1);
      await answers.answer(true); // the old agent's answer: all is well
      expect(seen).toEqual(['confirmed']);
      // The second ask runs now, and hears the truth.
      expect(answers.pending).toHaveLength(1);
      await answers.answer(false);
      expect(seen).toEqual(['confirmed', 'forgotten']);
    } finally {
      keepAlive.stop();
    }
  });
});
