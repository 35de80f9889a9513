import { Observable } from 'rxjs';
import { instance } from '../../../test/helpers/test-instances.js';
import type { ServiceInstance } from '../../common/service-instance.js';
import { CONSUL_GRPC_SCHEME, registerInstanceSource } from './consul-grpc.resolver.js';
import { loadGrpcJs } from './grpc-js.loader.js';

const grpc = loadGrpcJs();
const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

/** A source like `ConsulDiscoveryService.watch()`: emits (or fails) synchronously at subscribe time. */
function syncSource(emit: (subscriber: { next(list: ServiceInstance[]): void; error(e: Error): void }) => void) {
  const counts = { subscribes: 0, unsubscribes: 0 };
  const registration = registerInstanceSource(
    () =>
      new Observable<ServiceInstance[]>((subscriber) => {
        counts.subscribes++;
        emit(subscriber);
        return () => counts.unsubscribes++;
      }),
  );
  return { counts, registration };
}

/** What the listener saw, in both grpc-js listener shapes (a function ≥ 1.14, an object before). */
function recordingListener(onCall?: () => void) {
  const calls: Array<{ ok: boolean; endpoints?: unknown[]; details?: string }> = [];
  const record = (entry: (typeof calls)[number]) => {
    calls.push(entry);
    onCall?.();
  };
  const listener = Object.assign(
    (result: { ok: boolean; value?: unknown[]; error?: { details: string } }) => {
      record(result.ok ? { ok: true, endpoints: result.value } : { ok: false, details: result.error?.details });
      return true;
    },
    {
      onSuccessfulResolution: (endpoints: unknown[]) => record({ ok: true, endpoints }),
      onError: (error: { details: string }) => record({ ok: false, details: error.details }),
    },
  );
  return { calls, listener };
}

function createResolver(sourceId: string, listener: unknown) {
  return grpc.experimental.createResolver(
    { scheme: CONSUL_GRPC_SCHEME, authority: sourceId, path: 'svc' },
    listener as never,
    {},
  );
}

describe('consul: gRPC resolver follows grpc-js rules', () => {
  it('never calls its listener from inside updateResolution(), even when the source emits synchronously', async () => {
    const { counts, registration } = syncSource((s) => s.next([instance('a')]));
    const { calls, listener } = recordingListener();
    const resolver = createResolver(registration.id, listener);
    try {
      resolver.updateResolution();
      expect(calls).toEqual([]); // deferred, as grpc-js's own DNS and IP resolvers do
      expect(counts.subscribes).toBe(1);
      await nextTick();
      expect(calls).toEqual([{ ok: true, endpoints: [{ addresses: [{ host: '127.0.0.1', port: 1001 }] }] }]);
    } finally {
      resolver.destroy();
      registration.unregister();
    }
  });

  it('subscribes once however often updateResolution() is called, also from inside its listener', async () => {
    const { counts, registration } = syncSource((s) => s.next([instance('a')]));
    let resolver: ReturnType<typeof createResolver> | undefined = undefined;
    // grpc-js may ask to resolve again while handling a result (e.g. a policy requesting re-resolution).
    const { calls, listener } = recordingListener(() => resolver?.updateResolution());
    resolver = createResolver(registration.id, listener);
    try {
      resolver.updateResolution();
      resolver.updateResolution();
      await nextTick();
      resolver.updateResolution();
      await nextTick();
      expect(counts.subscribes).toBe(1);
      expect(calls.length).toBeGreaterThanOrEqual(1);
    } finally {
      resolver.destroy();
      registration.unregister();
    }
  });

  it('reports a synchronous source error after updateResolution() returns, and subscribes again on the next one', async () => {
    const { counts, registration } = syncSource((s) => s.error(new Error('agent unreachable')));
    const { calls, listener } = recordingListener();
    const resolver = createResolver(registration.id, listener);
    try {
      resolver.updateResolution();
      expect(calls).toEqual([]);
      await nextTick();
      expect(calls).toEqual([{ ok: false, details: 'agent unreachable' }]);
      resolver.updateResolution();
      expect(counts.subscribes).toBe(2);
    } finally {
      resolver.destroy();
      registration.unregister();
    }
  });

  it('destroy() unsubscribes, a result still pending is not delivered, and it resolves again after', async () => {
    const { counts, registration } = syncSource((s) => s.next([instance('a')]));
    const { calls, listener } = recordingListener();
    const resolver = createResolver(registration.id, listener);
    resolver.updateResolution();
    resolver.destroy();
    await nextTick();
    expect(counts.unsubscribes).toBe(1);
    expect(calls).toEqual([]);

    // grpc-js reuses a destroyed resolver when an idle channel wakes up.
    resolver.updateResolution();
    await nextTick();
    expect(counts.subscribes).toBe(2);
    expect(calls).toHaveLength(1);
    resolver.destroy();
    expect(counts.unsubscribes).toBe(2);
    registration.unregister();
  });

  it('reports an unknown source after updateResolution() returns, naming the target', async () => {
    const { calls, listener } = recordingListener();
    const resolver = createResolver('source-unknown', listener);
    resolver.updateResolution();
    expect(calls).toEqual([]);
    await nextTick();
    expect(calls).toEqual([
      {
        ok: false,
        details:
          `${CONSUL_GRPC_SCHEME}://source-unknown/svc is not registered with nestjs-consul-kit: ` +
          'its client was closed, or it belongs to no running app',
      },
    ]);
    resolver.destroy();
  });
});
