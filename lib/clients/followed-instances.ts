import type { Subscription } from 'rxjs';
import type { ConsulDiscoveryService, DiscoveryQuery } from '../discovery/consul-discovery.service.js';
import type { ServiceInstance } from '../common/service-instance.js';

/**
 * A client's live view of its service's instances: it subscribes to the shared watch on first
 * use and keeps the latest list, so a call whose instances are known picks one synchronously
 * (no promise, no cache lookup by key, no idle-lease bookkeeping). Until the first list arrives,
 * or when it is empty, `current` is undefined and callers take the awaited path of
 * `ConsulDiscoveryService` (which waits for Consul's first answer, or names what is missing).
 */
export class FollowedInstances {
  private list?: readonly ServiceInstance[];
  private subscription?: Subscription;
  private closed = false;

  constructor(
    private readonly discovery: ConsulDiscoveryService,
    private readonly service: string,
    private readonly query: DiscoveryQuery = {},
  ) {}

  /** The latest non-empty list, or undefined when none is known yet. */
  get current(): readonly ServiceInstance[] | undefined {
    if (!this.subscription && !this.closed) this.follow();
    return this.list;
  }

  /** Stops following (the watch loop stops with its last subscriber). */
  close(): void {
    this.closed = true;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.list = undefined;
  }

  private follow(): void {
    const subscription = this.discovery.watch(this.service, this.query).subscribe({
      next: (instances) => {
        this.list = instances.length > 0 ? instances : undefined;
      },
      // The watch could not start (the app is shutting down): forget it; the awaited path says why.
      error: () => {
        this.list = undefined;
        this.subscription = undefined;
      },
    });
    // An error delivered during subscribe() has already run: keep only a live subscription.
    if (!subscription.closed) this.subscription = subscription;
  }
}
