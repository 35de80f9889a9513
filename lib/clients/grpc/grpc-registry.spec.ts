import { of } from 'rxjs';
import { instance } from '../../../test/helpers/test-instances.js';
import { RoundRobinBalancer } from '../../balancing/round-robin.balancer.js';
import type { ServiceInstance } from '../../common/service-instance.js';
import { registerGrpcBalancer } from './consul-grpc.balancer.js';
import { CONSUL_GRPC_SCHEME, registerInstanceSource } from './consul-grpc.resolver.js';
import { loadGrpcJs } from './grpc-js.loader.js';
import { addToRegistry, type GrpcRegistry, grpcRegistry } from './grpc-registry.js';

const grpc = loadGrpcJs();
/** The registry as another copy of the package finds it: by the well-known symbol, not through our module. */
const shared = () =>
  (globalThis as unknown as Record<symbol, GrpcRegistry | undefined>)[Symbol.for('nestjs-consul-kit.grpc/v1')];

describe('the gRPC registry shared by every copy of the package in the process', () => {
  it('lives on globalThis under a versioned Symbol.for key, so another copy finds the same maps', () => {
    const registration = registerInstanceSource(() => of([]));
    try {
      expect(shared()).toBe(grpcRegistry());
      expect(shared()!.sources.has(registration.id)).toBe(true);
    } finally {
      registration.unregister();
    }
    expect(shared()!.sources.has(registration.id)).toBe(false);
  });

  it('gives ids that cannot collide across copies or apps (no per-copy counter)', () => {
    const ids = Array.from({ length: 50 }, () => registerGrpcBalancer(new RoundRobinBalancer()));
    expect(new Set(ids.map((r) => r.id)).size).toBe(50);
    for (const id of ids) expect(id.id).toMatch(/^[0-9a-f-]{36}$/);
    for (const r of ids) r.unregister();
    expect(ids.some((r) => grpcRegistry().balancers.has(r.id))).toBe(false);
  });

  it('unregister removes its own entry only, once', () => {
    const map = new Map<string, number>();
    const a = addToRegistry(map, 1);
    const b = addToRegistry(map, 2);
    a.unregister();
    a.unregister();
    expect([...map.values()]).toEqual([2]);
    b.unregister();
    expect(map.size).toBe(0);
  });

  it('registers the resolver and the policy once per grpc-js, whoever asks', () => {
    const one = registerInstanceSource(() => of([]));
    const two = registerGrpcBalancer(new RoundRobinBalancer());
    expect(grpcRegistry().registeredWith.resolver.has(grpc.experimental)).toBe(true);
    expect(grpcRegistry().registeredWith.policy.has(grpc.experimental)).toBe(true);
    one.unregister();
    two.unregister();
  });

  it("resolves a source another copy put in the registry (the class grpc-js holds may be the other copy's)", async () => {
    registerInstanceSource(() => of([])).unregister(); // our resolver is registered with grpc-js
    const theirs = addToRegistry(shared()!.sources, () => of<ServiceInstance[]>([instance('theirs')]));
    const seen: unknown[] = [];
    const listener = Object.assign((result: { ok: boolean; value?: unknown }) => (seen.push(result.value), true), {
      onSuccessfulResolution: (endpoints: unknown) => seen.push(endpoints),
      onError: () => seen.push('error'),
    });
    const resolver = grpc.experimental.createResolver(
      { scheme: CONSUL_GRPC_SCHEME, authority: theirs.id, path: 'svc' },
      listener as never,
      {},
    );
    resolver.updateResolution();
    await new Promise<void>((resolve) => setImmediate(resolve));
    resolver.destroy();
    theirs.unregister();
    expect(seen).toHaveLength(1);
    expect(JSON.stringify(seen[0])).toContain(`"port":${instance('theirs').port}`);
  });
});
