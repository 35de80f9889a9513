import { jest } from '@jest/globals';
import { AgentReachability } from './agent-reachability.js';
import { ConsulRequestError } from './consul-request.error.js';

describe('AgentReachability', () => {
  const agent = 'http://127.0.0.1:8500';
  const refused = new ConsulRequestError('list instances of service "a"', agent, undefined, 'ECONNREFUSED');

  function tracker() {
    const lines: string[] = [];
    let now = 1_000;
    const logger = {
      log: (message: string) => lines.push(`LOG ${message}`),
      warn: (message: string) => lines.push(`WARN ${message}`),
    };
    const reachability = new AgentReachability({ logger, now: () => now });
    return { reachability, lines, advance: (ms: number) => (now += ms) };
  }

  it('says nothing while the agent answers', () => {
    const { reachability, lines } = tracker();
    reachability.answered(agent);
    reachability.answered(agent);
    expect(lines).toEqual([]);
    expect(reachability.reachable).toBe(true);
  });

  it('warns once for an outage however many requests fail, and says once when it is over', () => {
    const { reachability, lines, advance } = tracker();
    for (let i = 0; i < 50; i++) reachability.unreachable(refused);
    expect(reachability.reachable).toBe(false);
    advance(60_250);
    reachability.answered(agent);
    reachability.answered(agent);
    expect(lines).toEqual([
      `WARN Consul at ${agent} could not list instances of service "a": ECONNREFUSED. Retrying in the background; ` +
        'the app keeps serving the instances and configuration it last saw',
      `LOG Consul at ${agent} answers again after 60.3 s (50 request(s) failed meanwhile)`,
    ]);
  });

  it('tells a second outage apart from the first', () => {
    const { reachability, lines } = tracker();
    reachability.unreachable(refused);
    reachability.answered(agent);
    reachability.unreachable(refused);
    reachability.unreachable(refused);
    reachability.answered(agent);
    expect(lines.filter((line) => line.startsWith('WARN'))).toHaveLength(2);
    expect(lines.at(-1)).toContain('(2 request(s) failed meanwhile)');
  });

  it('tells reconnect listeners when the agent answers after an outage, not before', () => {
    const { reachability } = tracker();
    let reconnects = 0;
    const stop = reachability.onReconnect(() => reconnects++);
    reachability.answered(agent);
    reachability.unreachable(refused);
    expect(reconnects).toBe(0);
    reachability.answered(agent);
    reachability.answered(agent);
    expect(reconnects).toBe(1);
    stop();
    reachability.unreachable(refused);
    reachability.answered(agent);
    expect(reconnects).toBe(1);
  });

  it('probes while the agent is away, and only then', async () => {
    jest.useFakeTimers();
    try {
      let probes = 0;
      let agentUp = false;
      const reachability: AgentReachability = new AgentReachability({
        logger: { log: () => undefined, warn: () => undefined },
        probeIntervalMs: 1_000,
        // As the client does: the probe's outcome reports itself.
        probe: async () => {
          probes++;
          if (agentUp) reachability.answered(agent);
          else reachability.unreachable(refused);
        },
      });
      let reconnected = 0;
      reachability.onReconnect(() => reconnected++); // a loop that waits for the agent (the registrar's)
      await jest.advanceTimersByTimeAsync(5_000);
      expect(probes).toBe(0); // nothing lost, nothing probed
      reachability.unreachable(refused);
      await jest.advanceTimersByTimeAsync(3_000);
      expect(probes).toBe(3);
      agentUp = true;
      await jest.advanceTimersByTimeAsync(1_000);
      expect(reconnected).toBe(1);
      await jest.advanceTimersByTimeAsync(10_000);
      expect(probes).toBe(4); // stopped once it answered
      reachability.unreachable(refused);
      reachability.close();
      await jest.advanceTimersByTimeAsync(10_000);
      expect(probes).toBe(4); // closed: no more probes
    } finally {
      jest.useRealTimers();
    }
  });

  it('probes only while someone waits to hear the agent is back (a failed bootstrap leaves nobody)', async () => {
    jest.useFakeTimers();
    try {
      let probes = 0;
      const reachability: AgentReachability = new AgentReachability({
        logger: { log: () => undefined, warn: () => undefined },
        probeIntervalMs: 1_000,
        probe: async () => {
          probes++;
          reachability.unreachable(refused);
        },
      });
      reachability.unreachable(refused);
      await jest.advanceTimersByTimeAsync(5_000);
      expect(probes).toBe(0); // nobody listens: nothing to wake, nothing probed
      const stop = reachability.onReconnect(() => undefined); // a loop goes to sleep in backoff
      await jest.advanceTimersByTimeAsync(2_000);
      expect(probes).toBe(2);
      stop(); // it woke up on its own
      await jest.advanceTimersByTimeAsync(5_000);
      expect(probes).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
