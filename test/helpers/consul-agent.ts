import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
   * Serve HTTPS on `ports.https` with these files, and no plain HTTP: the test's own calls use
   * HTTPS too, with `client` (a certificate signed by `caFile`). `verifyIncoming`: require a
   * client certificate.
   */
  tls?: {
    caFile: string;
    certFile: string;
    keyFile: string;
    verifyIncoming?: boolean;
    client: { certFile: string; keyFile: string };
  };
  /** More agent configuration, one HCL snippet per entry (e.g. raised connection limits for benchmarks). */
  hcl?: string[];
  /** The loopback address the agent binds to and serves on (127.0.0.0/8 only). Default 127.0.0.1. */
  host?: string;
  /**
   * `dev` (default): a one-process server with in-memory state. `server` and `client`: real agents
   * with a data directory, joining `retryJoin` (serf LAN addresses), as in a production cluster.
   */
  mode?: 'dev' | 'server' | 'client';
  /** `host:serfLanPort` of the agents to join (server and client modes). */
  retryJoin?: string[];
  /** Servers to wait for before electing a leader (server mode). */
  bootstrapExpect?: number;
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
const dataDirs = new Set<string>();
// A crashed test worker must not leave agents (or their data) behind.
process.once('exit', () => {
  running.forEach((child) => child.kill('SIGKILL'));
  dataDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

/**
 * A real Consul agent on free loopback ports, started and stopped by the test that owns it.
 * By default a dev agent: `restart()` starts a fresh process on the same ports, and a dev agent
 * keeps no state, which is exactly "the agent forgot my service". Server and client modes make
 * the agents of a real cluster (see consul-cluster.ts).
 */
export class ConsulAgent {
  private child?: ChildProcess;
  private output = '';
  private readonly node = `test-${randomUUID().slice(0, 8)}`;
  /** Kept across restarts, so a client whose data was wiped rejoins as the same node. */
  private readonly nodeId = randomUUID();
  private dataDir?: string;
  readonly host: string;

  private constructor(
    readonly ports: AgentPorts,
    private readonly options: ConsulAgentOptions,
  ) {
    this.host = options.host ?? '127.0.0.1';
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(this.host)) {
      throw new Error(`ConsulAgent: host ${this.host} is not a loopback address (127.0.0.0/8)`);
    }
  }

  static async start(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
    // Free when reserved, a port can still be taken before Consul binds it (by the ephemeral port
    // of some other process's outgoing connection): then reserve others, at most three times.
    for (let attempt = 1; ; attempt++) {
      const agent = await ConsulAgent.reserve(options);
      try {
        await agent.launch();
        return agent;
      } catch (error) {
        if (attempt === 3 || !agent.log.includes('address already in use')) throw error;
      }
    }
  }

  /** Ports reserved for an agent that is not started yet (for "Consul down at boot" tests). */
  static async reserve(options: ConsulAgentOptions = {}): Promise<ConsulAgent> {
    const [http, https, dns, serfLan, serfWan, server, grpc] = await freePorts(7, options.host);
    return new ConsulAgent({ http, https, dns, serfLan, serfWan, server, grpc }, options);
  }

  /** The same reserved ports with more options (e.g. servers that join each other once all ports are known). */
  withOptions(more: Partial<ConsulAgentOptions>): ConsulAgent {
    if (this.child) throw new Error('ConsulAgent.withOptions(): the agent is already started');
    return new ConsulAgent(this.ports, { ...this.options, ...more });
  }

  get httpPort(): number {
    return this.ports.http;
  }

  /** The agent's HTTP API: `https://` on the HTTPS port for a TLS agent (it has no plain port). */
  get address(): string {
    return this.options.tls ? `https://${this.host}:${this.ports.https}` : `http://${this.host}:${this.ports.http}`;
  }

  /** Where other agents join this one (serf LAN). */
  get serfLanAddress(): string {
    return `${this.host}:${this.ports.serfLan}`;
  }

  /** The Raft address, as `/v1/status/leader` names the leader. */
  get serverAddress(): string {
    return `${this.host}:${this.ports.server}`;
  }

  get nodeName(): string {
    return this.node;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The agent's own log, for failure messages. */
  get log(): string {
    return this.output;
  }

  async launch(): Promise<void> {
    this.spawn();
    await this.ready();
  }

  /** Starts the process without waiting (a cluster starts all its servers, then waits for a leader). */
  spawn(): void {
    const { ports, options, host } = this;
    const args = [
      'agent',
      ...this.modeArgs(),
      `-bind=${host}`,
      `-client=${host}`,
      `-node=${this.node}`,
      `-node-id=${this.nodeId}`,
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
        `-hcl=ports { https = ${ports.https}, http = -1 }`,
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
  }

  /** Waits until the agent answers and knows a leader (and accepts the master token with ACLs). */
  async ready(timeoutMs = 30_000): Promise<void> {
    const { child, options, ports } = this;
    if (!child) throw new Error('ConsulAgent.ready(): not started');
    try {
      const outcome = await eventually(
        async () => {
          // An agent that exited (a port taken, a bad option) fails now, not at the timeout.
          if (child.exitCode !== null) return 'exited' as const;
          const leader = await (await this.api('/v1/status/leader', { token: null })).json();
          if (!leader) return false;
          if (!options.aclMasterToken) return true;
          return (await this.api('/v1/acl/token/self')).ok;
        },
        { timeoutMs, what: `Consul agent on ${this.host}:${ports.http} to know a leader` },
      );
      if (outcome === 'exited') throw new Error(`consul exited with ${child.exitCode}:\n${this.output}`);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Stops the agent process (SIGTERM, then SIGKILL after 5 s; or SIGKILL at once, a crash) and
   * waits for it to exit. `wipe` also deletes its data directory (server and client modes).
   */
  async stop({
    signal = 'SIGTERM',
    wipe = false,
  }: { signal?: 'SIGTERM' | 'SIGKILL'; wipe?: boolean } = {}): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    if (wipe && this.dataDir) {
      rmSync(this.dataDir, { recursive: true, force: true });
      dataDirs.delete(this.dataDir);
      this.dataDir = undefined;
    }
  }

  /** Stops and starts again on the same ports; a dev agent always comes back empty, others with `wipe`. */
  async restart({ wipe = false }: { wipe?: boolean } = {}): Promise<void> {
    await this.stop({ wipe });
    await this.launch();
  }

  private modeArgs(): string[] {
    const { mode = 'dev', retryJoin = [], bootstrapExpect } = this.options;
    if (mode === 'dev') return ['-dev'];
    if (!this.dataDir) {
      this.dataDir = mkdtempSync(join(tmpdir(), `consul-${mode}-`));
      dataDirs.add(this.dataDir);
    }
    const args = [`-data-dir=${this.dataDir}`, ...retryJoin.map((address) => `-retry-join=${address}`)];
    // A client retries a failed join every 30 s by default: too slow for a test that restarts it.
    args.push('-retry-interval=1s');
    if (mode === 'server') {
      // raft_multiplier 1: production timing (Consul's default 5 is for slow dev machines).
      args.push('-server', `-bootstrap-expect=${bootstrapExpect ?? 1}`, '-hcl=performance { raft_multiplier = 1 }');
    }
    return args;
  }

  /** Calls the agent's HTTP API, with the master token when ACLs are on (unless `token` is given). */
  api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = init.token === undefined ? this.options.aclMasterToken : init.token;
    if (token) headers.set('x-consul-token', token);
    if (this.options.tls) return httpsFetch(`${this.address}${path}`, { ...init, headers }, this.options.tls);
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
    const res = await this.api(`/v1/agent/join/${other.host}:${other.ports.serfWan}?wan=1`, { method: 'PUT' });
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

/**
 * `fetch` over HTTPS with a CA and a client certificate (Node's global fetch takes neither without
 * the undici package): enough of a Response for the helpers above.
 */
async function httpsFetch(
  url: string,
  init: RequestInit & { headers: Headers },
  tls: NonNullable<ConsulAgentOptions['tls']>,
): Promise<Response> {
  const body = typeof init.body === 'string' ? init.body : undefined;
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: init.method ?? 'GET',
        headers: Object.fromEntries(init.headers),
        ca: readFileSync(tls.caFile),
        cert: readFileSync(tls.client.certFile),
        key: readFileSync(tls.client.keyFile),
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500 })));
        res.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${url}: timed out`)));
    request.on('error', reject);
    request.end(body);
  });
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
