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
    const reachability = new AgentReachability(logger as never, () => now);
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
});
