import type { HealthServiceEntry } from './consul-api.types.js';
import { blockingTimeout, type ConsulConnection, filterLiteral, urlSegment, waitParam } from './consul-connection.js';
import { consulIndex } from './consul-transport.js';

/** What to ask `/v1/health/service/:name`. */
export interface HealthQuery {
  service: string;
  dc?: string;
  /** All must match. */
  tags?: readonly string[];
  passingOnly?: boolean;
  /** Consul filter expression. */
  filter?: string;
  /** The instances that take Connect calls (`/health/connect/:name`) instead of every instance. */
  connect?: boolean;
  /** Sort by round-trip time from this node (`_agent` for the local agent). */
  near?: string;
  /** Let any server answer (`?stale`), not only the leader. */
  stale?: boolean;
  /**
   * Read through the agent's cache (`?cached`): the agent answers from one background blocking
   * query it shares with every caller on the node. Always a stale read (`stale` is then moot).
   */
  cached?: boolean;
}

/** `/v1/health`: the instances of a service with their checks, the read every discovery watch holds. */
export class HealthEndpoints {
  constructor(private readonly connection: ConsulConnection) {}

  /**
   * One (possibly blocking) read of a service's instances with their checks. With `index` > 0
   * Consul holds the answer until something changes or `waitMs` passes; with 0 it answers at once.
   */
  healthService(
    query: HealthQuery,
    { index, waitMs, signal }: { index: number; waitMs: number; signal?: AbortSignal },
  ): Promise<{ entries: HealthServiceEntry[]; index: number }> {
    // Not async: every watched service holds one of these reads for up to `waitMs`, and an
    // awaiting frame would be held with it. So what can throw must reject, as it did when async.
    let path: string;
    try {
      path = `/health/${query.connect ? 'connect' : 'service'}/${urlSegment(query.service, `service name "${query.service}"`)}`;
    } catch (error) {
      return Promise.reject(error);
    }
    const action = `list ${query.connect ? 'Connect ' : ''}instances of service "${query.service}"${query.dc ? ` in ${query.dc}` : ''}`;
    // One `tag` parameter; further tags become filter clauses (every tag must match).
    const [tag, ...moreTags] = query.tags ?? [];
    const clauses = moreTags.map((more) => `${filterLiteral(more) ?? JSON.stringify(more)} in Service.Tags`);
    if (query.filter) clauses.push(`(${query.filter})`);
    const blocking = index > 0;
    const params: Record<string, string> = {};
    // The agent's own background query is always a stale read, and Consul refuses `cached` with `consistent`.
    if (query.cached) params.cached = '';
    else if (query.stale) params.stale = '';
    if (query.dc) params.dc = query.dc;
    if (tag !== undefined) params.tag = tag;
    if (clauses.length) params.filter = clauses.join(' and ');
    if (query.near) params.near = query.near;
    if (query.passingOnly) params.passing = 'true';
    if (blocking) {
      params.index = String(index);
      params.wait = waitParam(waitMs);
    }
    // Direct, not the package's health.service: it cannot pass `cached`, and each of its calls
    // holds more per request (a context emitter, a suspended frame, its promise chain), and a
    // watch holds one request for minutes, per watched service.
    const answer = this.connection.direct({
      action,
      method: 'GET',
      path,
      query: params,
      timeoutMs: blocking ? blockingTimeout(waitMs, this.connection.options.timeoutMs) : undefined,
      signal,
    });
    // Odd entries are the mapper's to skip (with one log line); a body that is no list at all is
    // not "no instances": it is an error, so the watch keeps the last known answer.
    return answer.then((res) => ({
      entries: this.connection.expectList<HealthServiceEntry>(res, action),
      index: consulIndex(res),
    }));
  }
}
