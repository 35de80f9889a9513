import type { ResolvedConnectionOptions } from '../options/connection.options.js';
import type { AgentReachability } from './agent-reachability.js';
import { AgentEndpoints } from './agent.endpoints.js';
import { ConnectEndpoints } from './connect.endpoints.js';
import { ConsulConnection } from './consul-connection.js';
import { HealthEndpoints } from './health.endpoints.js';
import { KvEndpoints } from './kv.endpoints.js';
import { SessionEndpoints } from './session.endpoints.js';
import { StatusEndpoints } from './status.endpoints.js';

export type { RequestOptions } from './consul-connection.js';
export type { HealthQuery } from './health.endpoints.js';
export type { BlockingRead } from './connect.endpoints.js';

/**
 * The only code that talks to Consul. It goes through the public API of the `consul` package,
 * except for the calls the package cannot make as Consul needs them, which go through Node's HTTP client
 * with the same TLS, keep-alive, timeouts and cancellation (see {@link ConsulConnection.direct}). Everything above
 * this class sees typed shapes and {@link ConsulRequestError}s that name the agent and never carry
 * the token.
 *
 * One injectable facade over one {@link ConsulConnection}: each endpoint group (status, health,
 * KV, sessions, agent, connect) is its own class in its own file, and every layer (and the status service)
 * injects this one object, which also ends the connection on shutdown.
 */
export class ConsulApi {
  private readonly connection: ConsulConnection;
  private readonly status: StatusEndpoints;
  private readonly health: HealthEndpoints;
  private readonly kv: KvEndpoints;
  private readonly sessions: SessionEndpoints;
  private readonly agent: AgentEndpoints;
  private readonly connect: ConnectEndpoints;

  constructor(options: ResolvedConnectionOptions) {
    this.connection = new ConsulConnection(options, () => this.leader(1_000));
    this.status = new StatusEndpoints(this.connection);
    this.health = new HealthEndpoints(this.connection);
    this.kv = new KvEndpoints(this.connection);
    this.sessions = new SessionEndpoints(this.connection);
    this.agent = new AgentEndpoints(this.connection);
    this.connect = new ConnectEndpoints(this.connection);
  }

  /** `http(s)://host:port` of the agent, for messages. */
  get address(): string {
    return this.connection.address;
  }

  /** Whether the agent answers, for the whole app (one line when it stops, one when it is back). */
  get reachability(): AgentReachability {
    return this.connection.reachability;
  }

  /** The leader's address, or `''` when the cluster has none. */
  leader(...args: Parameters<StatusEndpoints['leader']>): ReturnType<StatusEndpoints['leader']> {
    return this.status.leader(...args);
  }

  /** Known datacenters, nearest first: the first is the agent's own. */
  datacenters(...args: Parameters<StatusEndpoints['datacenters']>): ReturnType<StatusEndpoints['datacenters']> {
    return this.status.datacenters(...args);
  }

  /** Checks the configured ACL token is known to Consul (see StatusEndpoints). */
  verifyToken(...args: Parameters<StatusEndpoints['verifyToken']>): ReturnType<StatusEndpoints['verifyToken']> {
    return this.status.verifyToken(...args);
  }

  /** One (possibly blocking) read of a service's instances with their checks. */
  healthService(...args: Parameters<HealthEndpoints['healthService']>): ReturnType<HealthEndpoints['healthService']> {
    return this.health.healthService(...args);
  }

  /** Every key under `prefix` (a blocking read when `index` > 0); none is an empty list. */
  kvTree(...args: Parameters<KvEndpoints['kvTree']>): ReturnType<KvEndpoints['kvTree']> {
    return this.kv.kvTree(...args);
  }

  /** Writes `value` at `key`; with `cas`, only if the key's ModifyIndex is still `cas`. */
  kvPut(...args: Parameters<KvEndpoints['kvPut']>): ReturnType<KvEndpoints['kvPut']> {
    return this.kv.kvPut(...args);
  }

  /** Deletes `key`. */
  kvDelete(...args: Parameters<KvEndpoints['kvDelete']>): ReturnType<KvEndpoints['kvDelete']> {
    return this.kv.kvDelete(...args);
  }

  /** One key with its lock state, or `undefined`; blocking when `index` > 0. */
  kvGet(...args: Parameters<KvEndpoints['kvGet']>): ReturnType<KvEndpoints['kvGet']> {
    return this.kv.kvGet(...args);
  }

  /** `PUT /kv/:key?acquire=<session>`: true when `session` now holds `key`. */
  kvAcquire(...args: Parameters<KvEndpoints['kvAcquire']>): ReturnType<KvEndpoints['kvAcquire']> {
    return this.kv.kvAcquire(...args);
  }

  /** `PUT /kv/:key?release=<session>`: true when the key was held by `session` and is now free. */
  kvRelease(...args: Parameters<KvEndpoints['kvRelease']>): ReturnType<KvEndpoints['kvRelease']> {
    return this.kv.kvRelease(...args);
  }

  /** Creates a session on the agent's node; resolves its id. */
  createSession(...args: Parameters<SessionEndpoints['createSession']>): ReturnType<SessionEndpoints['createSession']> {
    return this.sessions.createSession(...args);
  }

  /** Renews a TTL session; false when Consul no longer knows it. */
  renewSession(...args: Parameters<SessionEndpoints['renewSession']>): ReturnType<SessionEndpoints['renewSession']> {
    return this.sessions.renewSession(...args);
  }

  /** Destroys a session: Consul releases (or deletes) every key it holds. */
  destroySession(
    ...args: Parameters<SessionEndpoints['destroySession']>
  ): ReturnType<SessionEndpoints['destroySession']> {
    return this.sessions.destroySession(...args);
  }

  /** Registers (or replaces) a service with its checks on the agent. */
  registerService(
    ...args: Parameters<AgentEndpoints['registerService']>
  ): ReturnType<AgentEndpoints['registerService']> {
    return this.agent.registerService(...args);
  }

  /** Removes a service from the agent. */
  deregisterService(
    ...args: Parameters<AgentEndpoints['deregisterService']>
  ): ReturnType<AgentEndpoints['deregisterService']> {
    return this.agent.deregisterService(...args);
  }

  /** The agent's local registration of `id`, or `undefined`. */
  agentService(...args: Parameters<AgentEndpoints['agentService']>): ReturnType<AgentEndpoints['agentService']> {
    return this.agent.agentService(...args);
  }

  /** Puts a service in (or out of) maintenance. */
  setServiceMaintenance(
    ...args: Parameters<AgentEndpoints['setServiceMaintenance']>
  ): ReturnType<AgentEndpoints['setServiceMaintenance']> {
    return this.agent.setServiceMaintenance(...args);
  }

  /** Reports a TTL check's status; false when the agent does not know the check. */
  updateTtlCheck(...args: Parameters<AgentEndpoints['updateTtlCheck']>): ReturnType<AgentEndpoints['updateTtlCheck']> {
    return this.agent.updateTtlCheck(...args);
  }

  /** The Connect CA roots and trust domain; blocking when `index` > 0. */
  connectCaRoots(...args: Parameters<ConnectEndpoints['caRoots']>): ReturnType<ConnectEndpoints['caRoots']> {
    return this.connect.caRoots(...args);
  }

  /** The Connect leaf certificate of a service; blocking when `index` > 0. */
  connectLeafCertificate(
    ...args: Parameters<ConnectEndpoints['leafCertificate']>
  ): ReturnType<ConnectEndpoints['leafCertificate']> {
    return this.connect.leafCertificate(...args);
  }

  /** Whether a Connect caller may call a service, by the intentions. */
  connectAuthorize(...args: Parameters<ConnectEndpoints['authorize']>): ReturnType<ConnectEndpoints['authorize']> {
    return this.connect.authorize(...args);
  }

  /** The intentions' index, to hear any change; blocking when `index` > 0. */
  connectIntentionsIndex(
    ...args: Parameters<ConnectEndpoints['intentionsIndex']>
  ): ReturnType<ConnectEndpoints['intentionsIndex']> {
    return this.connect.intentionsIndex(...args);
  }

  /** Nest calls this last on shutdown, after deregistration. */
  onApplicationShutdown(): void {
    this.close();
  }

  /** Closes pooled connections. */
  close(): void {
    this.connection.close();
  }
}
