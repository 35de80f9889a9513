/**
 * Each time Consul's own check reaches the app (an HTTP check on the health endpoint, a GRPC check on
 * `grpc.health.v1.Health/Check`). When the calls stop, the agent has most likely forgotten the
 * instance: the keep-alive asks it then, instead of at the next reconcile tick.
 */
export class ConsulCheckPulse {
  private readonly listeners = new Set<() => void>();

  /** Consul's check just called the app. */
  beat(): void {
    this.listeners.forEach((listener) => listener());
  }

  /** Returns the unsubscribe function. */
  onBeat(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The User-Agent of Consul's HTTP checks: other callers of the health endpoint (a Kubernetes probe) do not count. */
export const CONSUL_CHECK_USER_AGENT = 'Consul Health Check';
