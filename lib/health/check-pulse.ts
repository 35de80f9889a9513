/**
 * Each time Consul's own check reaches the app (an HTTP check on the health endpoint, a GRPC check on
 * `grpc.health.v1.Health/Check`). When the calls stop, the agent has most likely forgotten the
 * instance: the keep-alive asks it then, instead of at the next reconcile tick.
 */
export class ConsulCheckPulse {
  private readonly listeners = { http: new Set<() => void>(), grpc: new Set<() => void>() };

  /**
   * Consul's check of this kind just called the app. Kept apart by kind: in a hybrid app the HTTP
   * check's calls must not hide that the gRPC check's have stopped (that service was forgotten).
   */
  beat(kind: PulseKind): void {
    this.listeners[kind].forEach((listener) => listener());
  }

  /** Returns the unsubscribe function. */
  onBeat(kind: PulseKind, listener: () => void): () => void {
    this.listeners[kind].add(listener);
    return () => this.listeners[kind].delete(listener);
  }
}

/** The checks whose calls reach the app. */
export type PulseKind = 'http' | 'grpc';

/** The User-Agent of Consul's HTTP checks: other callers of the health endpoint (a Kubernetes probe) do not count. */
export const CONSUL_CHECK_USER_AGENT = 'Consul Health Check';
