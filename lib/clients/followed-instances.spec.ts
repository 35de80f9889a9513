import { Observable, Subject } from 'rxjs';
import type { ConsulDiscoveryService } from '../discovery/consul-discovery.service.js';
import type { ServiceInstance } from '../common/service-instance.js';
import { FollowedInstances } from './followed-instances.js';

const instance = (id: string): ServiceInstance => ({
  id,
  service: 'svc',
  address: '127.0.0.1',
  port: 1,
  tags: [],
  meta: {},
  weights: { passing: 1, warning: 1 },
  dc: 'dc1',
  node: 'n',
  status: 'passing',
});

/** A discovery service whose watch() is a subject we drive, counting subscriptions. */
function fakeDiscovery() {
  const changes = new Subject<ServiceInstance[]>();
  const watched: Array<{ service: string; query: unknown }> = [];
  const discovery = {
    watch: (service: string, query: unknown) => {
      watched.push({ service, query });
      return changes.asObservable();
    },
  } as unknown as ConsulDiscoveryService;
  return { discovery, changes, watched };
}

describe('FollowedInstances', () => {
  it('subscribes once, on first use, and keeps the latest non-empty list as it is (same array)', () => {
    const { discovery, changes, watched } = fakeDiscovery();
    const followed = new FollowedInstances(discovery, 'svc', { tags: ['v2'] });
    expect(watched).toEqual([]);
    expect(followed.current).toBeUndefined();
    expect(watched).toEqual([{ service: 'svc', query: { tags: ['v2'] } }]);
    const list = [instance('a'), instance('b')];
    changes.next(list);
    expect(followed.current).toBe(list);
    changes.next([]);
    expect(followed.current).toBeUndefined(); // callers take the awaited path, which names what is missing
    changes.next([instance('c')]);
    expect(followed.current?.map((i) => i.id)).toEqual(['c']);
    expect(watched).toHaveLength(1);
    followed.close();
    expect(changes.observed).toBe(false);
    expect(followed.current).toBeUndefined();
    expect(watched).toHaveLength(1); // closed: never subscribes again
  });

  it('forgets a watch that failed to start, and tries again on the next use', () => {
    let attempts = 0;
    const discovery = {
      watch: () =>
        new Observable<ServiceInstance[]>((subscriber) => {
          attempts++;
          subscriber.error(new Error('shut down'));
        }),
    } as unknown as ConsulDiscoveryService;
    const followed = new FollowedInstances(discovery, 'svc');
    expect(followed.current).toBeUndefined();
    expect(followed.current).toBeUndefined();
    expect(attempts).toBe(2);
  });
});
