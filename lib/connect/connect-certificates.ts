import type { Logger } from '@nestjs/common';
import type { ConsulApi } from '../consul-api/consul-api.js';
import type { ConnectCaRoots, ConnectLeafCert } from '../consul-api/consul-api.types.js';
import { ConsulRequestError } from '../consul-api/consul-request.error.js';
import type { ResolvedWatchOptions } from '../options/discovery.options.js';
import { BlockingQueryLoop, type BlockingLoopOptions } from '../watch/blocking-query.loop.js';
import { ConsulConnectError } from './connect.errors.js';

/** What a TLS endpoint of `service` needs: its leaf and key, and every root a peer may chain to. */
export interface ConnectMaterial {
  service: string;
  /** PEM of the leaf certificate, issued by the agent to `service`. */
  cert: string;
  /** PEM of its private key. */
  key: string;
  /** PEM of every CA root: during a CA rotation the old and the new, so both kinds of peers verify. */
  ca: string[];
  /** e.g. `7f1c…-….consul`: the host of every SPIFFE id of the mesh. */
  trustDomain: string;
  /** This leaf's SPIFFE id. */
  serviceUri: string;
  /** Hex serial of the leaf (what `authorize` logs). */
  serial: string;
  /** When the leaf stops being valid; the agent renews it well before. */
  validBefore: Date;
}

type Listener = (material: ConnectMaterial) => void;

/**
 * The leaf certificate of one service and the CA roots, followed with blocking queries: the
 * agent renews a leaf before it expires and re-issues it on a CA rotation, and a blocking read
 * hears either at once. Listeners get every new pair; servers swap their secure context and
 * clients their connector, so connections in flight keep the certificate they started with.
 */
export class ConnectCertificates {
  private readonly roots: BlockingQueryLoop<ConnectCaRoots>;
  private readonly leaf: BlockingQueryLoop<ConnectLeafCert>;
  private readonly listeners = new Set<Listener>();
  private material?: ConnectMaterial;
  /** Says so once if the leaf in hand runs out before the agent renews it (the agent is away). */
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    api: Pick<ConsulApi, 'connectCaRoots' | 'connectLeafCertificate' | 'reachability'>,
    readonly service: string,
    watch: ResolvedWatchOptions,
    private readonly logger: Logger,
  ) {
    const loop = <T>(name: string, equals: (a: T, b: T) => boolean): BlockingLoopOptions<T> => ({
      name,
      waitMs: watch.waitMs,
      rateLimit: watch.rateLimit,
      backoff: { initialMs: watch.retry.initialDelayMs, maxMs: watch.retry.maxDelayMs },
      equals,
      logger,
      wake: api.reachability.onReconnect,
    });
    this.roots = new BlockingQueryLoop<ConnectCaRoots>(
      (index, waitMs, signal) =>
        api.connectCaRoots({ index, waitMs, signal }).then((answer) => ({ value: answer.roots, index: answer.index })),
      loop('the Connect CA roots', (a, b) => rootIds(a) === rootIds(b)),
    );
    this.leaf = new BlockingQueryLoop<ConnectLeafCert>(
      (index, waitMs, signal) =>
        api
          .connectLeafCertificate(service, { index, waitMs, signal })
          .then((answer) => ({ value: answer.leaf, index: answer.index })),
      loop(`the Connect certificate of "${service}"`, (a, b) => a.SerialNumber === b.SerialNumber),
    );
    this.roots.onChange(() => this.combine());
    this.leaf.onChange(() => this.combine());
  }

  /** The current pair, or `undefined` before both have come. Never does I/O. */
  get current(): ConnectMaterial | undefined {
    return this.material;
  }

  /**
   * Starts following, and resolves once a leaf and the roots are in hand. Rejects with a
   * {@link ConsulConnectError} saying what to do when the agent refuses (Connect off, no permission).
   */
  async start(): Promise<ConnectMaterial> {
    this.roots.start();
    this.leaf.start();
    try {
      await Promise.all([this.roots.ready(), this.leaf.ready()]);
    } catch (error) {
      throw this.explain(error);
    }
    // The loops' listeners have combined the two already (they run before the awaits resume), and
    // another user (the server's gate, a Connect client) may have started it first: that pair stands.
    return this.material ?? this.combine()!;
  }

  /** Calls `listener` with every new leaf or set of roots; returns the unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stop(): void {
    clearTimeout(this.expiryTimer);
    this.roots.stop();
    this.leaf.stop();
    this.listeners.clear();
  }

  private combine(): ConnectMaterial | undefined {
    const roots = this.roots.current;
    const leaf = this.leaf.current;
    if (!roots || !leaf) return undefined;
    const previous = this.material;
    this.material = {
      service: this.service,
      cert: leaf.CertPEM,
      key: leaf.PrivateKeyPEM,
      ca: (roots.Roots ?? []).map((root) => root.RootCert),
      trustDomain: roots.TrustDomain,
      serviceUri: leaf.ServiceURI,
      serial: leaf.SerialNumber,
      validBefore: new Date(leaf.ValidBefore),
    };
    if (previous?.serial !== leaf.SerialNumber) this.watchExpiry(this.material);
    if (previous) {
      const what = previous.serial === leaf.SerialNumber ? 'CA roots' : `certificate (serial ${leaf.SerialNumber})`;
      this.logger.log(`New Connect ${what} for "${this.service}": new connections use it, open ones keep theirs`);
      for (const listener of this.listeners) listener(this.material);
    }
    return this.material;
  }

  /**
   * The agent renews a leaf well before it ends; one still in hand at its end means the agent
   * could not (unreachable, CA down). Callers then refuse this app's certificate: say it once,
   * with the time, so the refusals make sense.
   */
  private watchExpiry(material: ConnectMaterial): void {
    clearTimeout(this.expiryTimer);
    // setTimeout holds at most ~24.8 days; a longer leaf is looked at again then.
    const ms = Math.min(material.validBefore.getTime() - Date.now(), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(
      () => {
        if (material.validBefore.getTime() > Date.now()) return this.watchExpiry(material);
        this.logger.error(
          `The Connect certificate of "${this.service}" (serial ${material.serial}) expired at ` +
            `${material.validBefore.toISOString()} and the agent has not renewed it: callers refuse it until it does. ` +
            'Is the agent reachable?',
        );
      },
      Math.max(ms, 0),
    );
    // The watches keep the app alive while it runs; this timer alone must not.
    this.expiryTimer.unref();
  }

  private explain(error: unknown): unknown {
    if (!(error instanceof ConsulRequestError)) return error;
    if (/Connect must be enabled/i.test(error.reason)) {
      return new ConsulConnectError(
        `Consul Connect is off on the agent at ${error.agent}, so "${this.service}" cannot get a certificate: ` +
          'enable it in the agent configuration (connect { enabled = true }) or remove connect.native',
        this.service,
        { cause: error },
      );
    }
    if (error.forbidden) {
      return new ConsulConnectError(
        `The ACL token may not get a Connect certificate for "${this.service}" (${error.reason}): ` +
          `give it service "${this.service}" { policy = "write" }`,
        this.service,
        { cause: error },
      );
    }
    return error;
  }
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function rootIds(roots: ConnectCaRoots): string {
  return (roots.Roots ?? []).map((root) => root.ID).join(',');
}
