import { ConsulKitError } from '../common/consul-kit.error.js';
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { hostPort } from '../common/host-port.js';
import { SERVICE_NAME } from '../options/service.options.js';

export interface DnsLookupOptions {
  /** Only instances with this tag (`<tag>.<service>.service.consul`). */
  tag?: string;
  /** Datacenter (`<service>.service.<dc>.consul`). */
  dc?: string;
}

/** One SRV answer with its target resolved. */
export interface DnsInstance {
  address: string;
  port: number;
  /** The SRV target, e.g. `7f000001.addr.dc1.consul` or `node-1.node.dc1.consul`. */
  target: string;
  priority: number;
  weight: number;
}

export class ConsulDnsError extends ConsulKitError {
  override readonly name = 'ConsulDnsError';
}

const NO_ANSWER = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * The tutorial's lookup through Consul's DNS interface: an SRV query for ports and targets,
 * then each target's address. Consul answers only with passing instances.
 */
export class ConsulDnsResolver {
  private readonly resolver: dns.Resolver;
  private readonly server: string;
  private readonly domain: string;
  /** Set once the resolver points at the server's address (see {@link pointAtServer}). */
  private serverReady?: Promise<void>;

  /** Never throws and sends nothing: a hostname in `server.host` is looked up at the first `resolve()`. */
  constructor(
    private readonly serverHost: { host: string; port: number },
    options: { timeoutMs?: number; domain?: string } = {},
  ) {
    this.server = hostPort(serverHost.host, serverHost.port);
    this.domain = options.domain ?? 'consul';
    this.resolver = new dns.Resolver({ timeout: options.timeoutMs ?? 2_000, tries: 2 });
  }

  async resolve(service: string, options: DnsLookupOptions = {}): Promise<DnsInstance[]> {
    for (const [what, value] of [
      ['service', service],
      ['tag', options.tag],
      ['dc', options.dc],
    ] as const) {
      if (value !== undefined && !SERVICE_NAME.test(value)) {
        throw new ConsulDnsError(
          `Consul DNS lookup: ${what} ${JSON.stringify(value)} is not a DNS label: use letters, digits, "-" and "_" only`,
        );
      }
    }
    const name = `${options.tag ? `${options.tag}.` : ''}${service}.service${options.dc ? `.${options.dc}` : ''}.${this.domain}`;
    await this.pointAtServer();
    let records: Awaited<ReturnType<dns.Resolver['resolveSrv']>>;
    try {
      records = await this.resolver.resolveSrv(name);
    } catch (error) {
      if (NO_ANSWER.has((error as NodeJS.ErrnoException).code ?? '')) return [];
      throw this.failure(name, 'SRV', error);
    }
    // Many instances share a node or address: look each target up once.
    const addresses = new Map<string, Promise<string>>();
    const addressOf = (target: string) => {
      let address = addresses.get(target);
      if (!address) {
        address = this.address(target);
        addresses.set(target, address);
      }
      return address;
    };
    const instances = await Promise.all(
      records.map(async (record) => ({
        address: await addressOf(record.name),
        port: record.port,
        target: record.name,
        priority: record.priority,
        weight: record.weight,
      })),
    );
    return instances.toSorted((a, b) => a.priority - b.priority || a.target.localeCompare(b.target) || a.port - b.port);
  }

  /**
   * `Resolver.setServers()` takes IP addresses only, while users name their agent (`localhost`,
   * `consul` in Docker or Kubernetes). So the name is looked up with the system resolver at the
   * first query, not at construction (an app that never calls `resolveDns()` must not pay for,
   * or fail on, it). A failed look-up is not kept: the next query tries again.
   */
  private pointAtServer(): Promise<void> {
    this.serverReady ??= (async () => {
      const { host, port } = this.serverHost;
      let addresses = [host];
      if (isIP(host) === 0) {
        try {
          // Every address: `localhost` may be ::1 first while the agent listens on 127.0.0.1, and
          // the resolver moves on to the next server when one refuses.
          addresses = (await dns.lookup(host, { all: true })).map((found) => found.address);
        } catch (error) {
          const cause = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
          throw new ConsulDnsError(
            `Consul DNS: discovery.dns.host "${host}" does not resolve to an address (${cause}). ` +
              `Set discovery.dns.host to the agent's address or a name this machine resolves (it defaults to consul.host).`,
          );
        }
      }
      this.resolver.setServers(addresses.map((address) => hostPort(address, port)));
    })().catch((error: unknown) => {
      this.serverReady = undefined;
      throw error;
    });
    return this.serverReady;
  }

  private async address(target: string): Promise<string> {
    try {
      const [v4] = await this.resolver.resolve4(target);
      if (v4) return v4;
    } catch (error) {
      if (!NO_ANSWER.has((error as NodeJS.ErrnoException).code ?? '')) throw this.failure(target, 'A', error);
    }
    try {
      const [v6] = await this.resolver.resolve6(target);
      if (v6) return v6;
    } catch (error) {
      if (!NO_ANSWER.has((error as NodeJS.ErrnoException).code ?? '')) throw this.failure(target, 'AAAA', error);
    }
    throw new ConsulDnsError(`Consul DNS at ${this.server} has no address for ${target}`);
  }

  private failure(name: string, type: string, error: unknown): ConsulDnsError {
    const cause = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return new ConsulDnsError(
      `Consul DNS at ${this.server} could not resolve ${name} (${type}): ${cause}. ` +
        `Check discovery.dns.host and discovery.dns.port: they name the agent's DNS interface (port 8600 by default).`,
    );
  }
}
