import type { Logger } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { ResolvedWatchOptions } from '../options/discovery.options.js';
import { BlockingQueryLoop } from '../watch/blocking-query.loop.js';
import { parseServiceIdentity } from './spiffe-id.js';

/** Whether one caller may call the service, and why (Consul's words). */
export interface CallerDecision {
  allowed: boolean;
  /** The calling service's name, or its certificate URI when it names no service. */
  caller: string;
  reason: string;
  /** The agent could not be asked: not the caller's fault (503, not 403). */
  unavailable?: boolean;
}

/** How long a decision is reused while the intentions are quiet. */
const DECISION_TTL_MS = 10_000;
/**
 * Right after an intentions change, the agent's own cache may answer with the old intentions
 * for a few milliseconds: decisions taken then are reused only this long, so a stale "allowed"
 * cannot outlive the change by more than this.
 */
const SETTLING_MS = 1_000;
const SETTLING_TTL_MS = 100;

/**
 * Decides whether a Connect caller (by its certificate's SPIFFE URI) may call `target`: asks the
 * agent (`/v1/agent/connect/authorize`, answered from its cache of the intentions), keeps each
 * decision per caller, and forgets them all the moment the intentions change (one blocking query
 * on their index). Fails closed: a caller is admitted only on an answer that says so.
 *
 * While the agent cannot be asked, a caller already decided keeps its last decision (as a proxy
 * keeps its last configuration), taken while the intentions were followed and not changed since:
 * a Consul outage does not stop traffic that was allowed, nor let in what was denied. A caller
 * never decided is refused as unavailable.
 */
export class ConnectAuthorizer {
  private readonly intentions: BlockingQueryLoop<number>;
  private readonly decisions = new Map<string, { decision: CallerDecision | Promise<CallerDecision>; until: number }>();
  private changedAt = 0;
  /** Callers served from their last decision because the agent could not be asked; said once each. */
  private readonly keptWhileAway = new Set<string>();

  constructor(
    private readonly api: Pick<ConsulApi, 'connectAuthorize' | 'connectIntentionsIndex' | 'reachability'>,
    readonly target: string,
    watch: ResolvedWatchOptions,
    private readonly logger: Logger,
  ) {
    this.intentions = new BlockingQueryLoop<number>(
      (index, waitMs, signal) =>
        api
          .connectIntentionsIndex({ index, waitMs, signal })
          .then((answer) => ({ value: answer.index, index: answer.index })),
      {
        name: 'the Connect intentions',
        waitMs: watch.waitMs,
        rateLimit: watch.rateLimit,
        backoff: { initialMs: watch.retry.initialDelayMs, maxMs: watch.retry.maxDelayMs },
        equals: (a, b) => a === b,
        logger,
        wake: api.reachability.onReconnect,
      },
    );
    this.intentions.onChange(() => {
      this.changedAt = Date.now();
      this.decisions.clear();
      this.keptWhileAway.clear();
    });
  }

  start(): void {
    this.intentions.start();
  }

  stop(): void {
    this.intentions.stop();
    this.decisions.clear();
  }

  /** The decision for a caller: synchronous when one is in hand, which is the common case. */
  decide(clientCertUri: string, serial: string): CallerDecision | Promise<CallerDecision> {
    const now = Date.now();
    const cached = this.decisions.get(clientCertUri);
    if (cached && cached.until > now) return cached.decision;
    // What this caller was last told, if that was an answer of the agent (not an outage).
    const last = cached && !(cached.decision instanceof Promise) ? cached.decision : undefined;
    const caller = parseServiceIdentity(clientCertUri)?.service ?? clientCertUri;
    const asking = this.api.connectAuthorize(this.target, clientCertUri, serial).then(
      ({ Authorized, Reason }): CallerDecision => {
        this.keptWhileAway.delete(clientCertUri);
        return { allowed: Authorized === true, caller, reason: Reason };
      },
      (error: unknown): CallerDecision => {
        if (last) return this.keepWhileAway(clientCertUri, last, error);
        return {
          allowed: false,
          caller,
          reason: `could not ask Consul: ${(error as Error).message}`,
          unavailable: true,
        };
      },
    );
    const pending: Promise<CallerDecision> = asking.then((decision) => {
      const entry = this.decisions.get(clientCertUri);
      if (entry?.decision !== pending) return decision; // forgotten meanwhile: an intentions change
      if (decision.unavailable)
        this.decisions.delete(clientCertUri); // ask again next time
      else entry.decision = decision;
      return decision;
    });
    this.decisions.set(clientCertUri, { decision: pending, until: now + this.ttl(now) });
    return pending;
  }

  /** `last`, kept because the agent could not be asked again; one warning per caller and outage. */
  private keepWhileAway(uri: string, last: CallerDecision, error: unknown): CallerDecision {
    if (!this.keptWhileAway.has(uri)) {
      this.keptWhileAway.add(uri);
      this.logger.warn(
        `Could not ask Consul whether "${last.caller}" may call "${this.target}" (${(error as Error).message}); ` +
          `keeping its last decision (${last.allowed ? 'allowed' : 'denied'}) until Consul answers`,
      );
    }
    return last;
  }

  /** Until the intentions are followed, and just after they change, a decision is reused only briefly. */
  private ttl(now: number): number {
    if (this.intentions.current === undefined || now - this.changedAt < SETTLING_MS) return SETTLING_TTL_MS;
    return DECISION_TTL_MS;
  }
}
