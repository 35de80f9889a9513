import { ConsulAgent } from './consul-agent.js';
import { eventually } from './eventually.js';

/**
 * A production-shaped Consul datacenter on this machine's loopback: `servers` Raft servers on
 * 127.0.0.11, .12, .13… and a client agent on 127.0.0.10, the one apps talk to (as on a real
 * node). Raft runs at production timing (raft_multiplier 1), so elections take about a second.
 */
export class ConsulCluster {
  private constructor(
    readonly servers: ConsulAgent[],
    readonly client: ConsulAgent,
  ) {}

  /** `hcl`: more configuration for every agent (e.g. telemetry for benchmarks that read the servers' metrics). */
  static async start({ servers: count = 3, hcl }: { servers?: number; hcl?: string[] } = {}): Promise<ConsulCluster> {
    const reserved: ConsulAgent[] = [];
    for (let i = 0; i < count; i++) {
      reserved.push(
        await ConsulAgent.reserve({ host: `127.0.0.${11 + i}`, mode: 'server', bootstrapExpect: count, hcl }),
      );
    }
    const join = reserved.map((server) => server.serfLanAddress);
    const servers = reserved.map((server, i) => server.withOptions({ retryJoin: join.filter((_, j) => j !== i) }));
    const client = await ConsulAgent.reserve({ host: '127.0.0.10', mode: 'client', retryJoin: join, hcl });
    const cluster = new ConsulCluster(servers, client);
    try {
      for (const agent of [...servers, client]) agent.spawn();
      await Promise.all([...servers, client].map((agent) => agent.ready(60_000)));
      await cluster.members(count + 1);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The server that is Raft leader now, as the client agent sees it. */
  async leader(): Promise<ConsulAgent | undefined> {
    const address = await this.client.json<string>('/v1/status/leader').catch(() => '');
    return this.servers.find((server) => server.serverAddress === address);
  }

  /** Waits until the client agent knows a leader other than `previous` (after a failover). */
  async newLeader(previous: ConsulAgent, timeoutMs = 30_000): Promise<ConsulAgent> {
    return eventually(
      async () => {
        const leader = await this.leader();
        return leader && leader !== previous ? leader : undefined;
      },
      { timeoutMs, intervalMs: 50, what: 'a new Raft leader' },
    );
  }

  /** Waits until `count` agents are alive members of the LAN pool. */
  async members(count: number, timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        const members = await this.client.json<Array<{ Status: number }>>('/v1/agent/members');
        return members.filter((member) => member.Status === 1).length >= count;
      },
      { timeoutMs, what: `${count} alive cluster members` },
    );
  }

  async stop(): Promise<void> {
    await Promise.all([this.client, ...this.servers].map((agent) => agent.stop({ wipe: true })));
  }
}
