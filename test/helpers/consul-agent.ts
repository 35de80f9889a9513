import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';
import { freePorts } from './free-ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let consulBinary: string | undefined;

/** The consul binary, found or installed by the project's own script (once per process). */
export function consulBin(): string {
  consulBinary ??=
    process.env.CONSUL_BIN ||
    execFileSync('bash', [`${ROOT}/scripts/consul.sh`, 'ensure'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  return consulBinary;
}

export interface ConsulAgentOptions {
  /** Enable ACLs with default-deny and this master (management) token. */
  aclMasterToken?: string;
  datacenter?: string;
  /**
   * Also serve HTTPS on `ports.https` with these files (the plain HTTP port stays for the test's own
   * calls). `verifyIncoming`: require a client certificate signed by `caFile`.
   */
  tls?: { caFile: string; certFile: string; keyFile: string; verifyIncoming?: boolean };
  /** More agent configuration, one HCL snippet per entry (e.g. raised connection limits for benchmarks). */
  hcl?: string[];
}

interface AgentPorts {
  http: number;
  https: number;
  dns: number;
  serfLan: number;
  serfWan: number;
  server: number;
  grpc: number;
}

const running = new Set<ChildProcess>();
// A crashed test worker must not leave agents behind.
process.once('exit', () => running.forEach((child) => child.kill('SIGKILL')));

/**
 * A real Consul dev agent on free 127.0.0.1 ports, started and stopped by the test that owns it.
 * `restart()` starts a fresh process on the same ports: a dev agent keeps no state, which is
 * exactly "the agent forgot my service".
 */
export class ConsulAgent {
  private child?: ChildProcess;
  private output = '';
  private readonly node = `test-${randomUUID().slice(0, 8)}`;

  private constructor(
    readonly ports: AgentPorts,
    private readonly options: ConsulAgentOptions,
  ) {}

  static async start(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
    const agent = await ConsulAgent.reserve(options);
    await agent.launch();
    return agent;
  }

  /** Ports reserved for an agent that is not started yet (for "Consul down at boot" tests). */
  static async reserve(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
    const [http, https, dns, serfLan, serfWan, server, grpc] = await freePorts(7);
    return new ConsulAgent({ http, https, dns, serfLan, serfWan, server, grpc }, options);
  }

  get httpPort(): number {
    return this.ports.http;
  }

  get address(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The agent's own log, for failure messages. */
  get log(): string {
    return this.output;
  }

  async launch(): Promise<void> {
    const { ports, options } = this;
    const args = [
      'agent',
      '-dev',
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
      `-node=${this.node}`,
      `-datacenter=${options.datacenter ?? 'dc1'}`,
      `-http-port=${ports.http}`,
      `-dns-port=${ports.dns}`,
      `-serf-lan-port=${ports.serfLan}`,
      `-serf-wan-port=${ports.serfWan}`,
      `-server-port=${ports.server}`,
      `-grpc-port=${ports.grpc}`,
      '-log-level=info',
    ];
    if (options.aclMasterToken) {
      args.push(
        `-hcl=acl { enabled = true default_policy = "deny" enable_token_persistence = false tokens { master = "${options.aclMasterToken}" } }`,
      );
    }
    if (options.tls) {
      const { caFile, certFile, keyFile, verifyIncoming } = options.tls;
      args.push(
        `-hcl=ports { https = ${ports.https} }`,
        `-hcl=ca_file = "${caFile}"`,
        `-hcl=cert_file = "${certFile}"`,
        `-hcl=key_file = "${keyFile}"`,
        `-hcl=verify_incoming_https = ${verifyIncoming ? 'true' : 'false'}`,
      );
    }
    for (const snippet of options.hcl ?? []) args.push(`-hcl=${snippet}`);
    const child = spawn(consulBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    running.add(child);
    const collect = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', () => running.delete(child));
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`consul exited with ${child.exitCode}:\n${this.output}`);
          const leader = await (await fetch(`${this.address}/v1/status/leader`)).json();
          if (!leader) return false;
          if (!options.aclMasterToken) return true;
          return (await this.api('/v1/acl/token/self')).ok;
        },
        { timeoutMs: 30_000, what: `Consul agent on port ${ports.http} to elect a leader` },
      );
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops the agent process (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }

  /** Stops and starts again on the same ports, with empty state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Calls the agent's HTTP API, with the master token when ACLs are on (unless `token` is given). */
  api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? this.options.aclMasterToken : init.token;
    if (token) headers.set('x-consul-token', token);
    return fetch(`${this.address}${path}`, { ...init, headers });
  }

  async json<T = any>(path: string): Promise<T> {
    const res = await this.api(path);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Registers a service instance directly through the agent API, as another app would. */
  async register(definition: Record<string, unknown>): Promise<void> {
    const res = await this.api('/v1/agent/service/register', { method: 'PUT', body: JSON.stringify(definition) });
    if (!res.ok) throw new Error(`register ${JSON.stringify(definition)}: ${res.status} ${await res.text()}`);
  }

  async deregister(id: string): Promise<void> {
    await this.api(`/v1/agent/service/deregister/${encodeURIComponent(id)}`, { method: 'PUT' });
  }

  /** Sets a TTL check's status, e.g. `service:<id>` to `fail`. */
  async ttl(checkId: string, status: 'pass' | 'warn' | 'fail'): Promise<void> {
    const res = await this.api(`/v1/agent/check/${status}/${encodeURIComponent(checkId)}`, { method: 'PUT' });
    if (!res.ok) throw new Error(`ttl ${checkId} ${status}: ${res.status} ${await res.text()}`);
  }

  /** Joins this agent to `other` over the WAN (two datacenters). */
  async joinWan(other: ConsulAgent): Promise<void> {
    const res = await this.api(`/v1/agent/join/127.0.0.1:${other.ports.serfWan}?wan=1`, { method: 'PUT' });
    if (!res.ok) throw new Error(`join wan: ${res.status} ${await res.text()}`);
  }

  /** Catalog entries of a service with their checks, as a user sees them (`/v1/health/service/:name`). */
  health(service: string): Promise<HealthEntry[]> {
    return this.json(`/v1/health/service/${encodeURIComponent(service)}`);
  }

  /**
   * The agent's own view of the check of service `name` (status and latest output). The catalog
   * gets output-only changes late (Consul's check_update_interval), the agent at once.
   */
  async localCheck(name: string): Promise<{ Status: string; Output: string; ServiceID: string } | undefined> {
    const checks =
      await this.json<Record<string, { ServiceName: string; ServiceID: string; Status: string; Output: string }>>(
        '/v1/agent/checks',
      );
    return Object.values(checks).find((check) => check.ServiceName === name);
  }
}

export interface HealthEntry {
  Node: { Node: string; Address: string };
  Service: {
    ID: string;
    Service: string;
    Address: string;
    Port: number;
    Tags: string[];
    Meta: Record<string, string>;
    Weights: { Passing: number; Warning: number };
    EnableTagOverride: boolean;
  };
  Checks: Array<{
    CheckID: string;
    ServiceID: string;
    Status: string;
    Output: string;
    Type?: string;
    Definition?: unknown;
  }>;
}
