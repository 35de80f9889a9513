import type { experimental } from '@grpc/grpc-js';
import { instance } from '../../../test/helpers/test-instances.js';
import { LeastOutstandingBalancer } from '../../balancing/least-outstanding.balancer.js';
import type { LoadBalancer } from '../../balancing/load-balancer.js';
import { RoundRobinBalancer } from '../../balancing/round-robin.balancer.js';
import {
  CONSUL_INSTANCES_ATTRIBUTE,
  CONSUL_LB_POLICY,
  consulBalancingPolicy,
  consulLoadBalancingConfig,
  registerGrpcBalancer,
} from './consul-grpc.balancer.js';
import { loadGrpcJs } from './grpc-js.loader.js';

const grpc = loadGrpcJs();
const { Picker: ConsulPicker, Policy, Config } = consulBalancingPolicy(grpc);
const { PickResultType } = grpc.experimental;
const pickArgs = { metadata: new grpc.Metadata(), extraPickInfo: {} } as experimental.PickArgs;

/** A child picker standing for one instance's READY connection. */
function childPicker(name: string) {
  const subchannel = { name } as unknown as experimental.SubchannelInterface;
  return {
    subchannel,
    pick: (): experimental.PickResult => ({
      pickResultType: PickResultType.COMPLETE,
      subchannel,
      status: null,
      onCallStarted: null,
      onCallEnded: null,
    }),
  };
}

describe('nestjs_consul_kit grpc-js policy (API shape on the installed grpc-js)', () => {
  it('registers beside the resolver and parses its service config entry', () => {
    const registration = registerGrpcBalancer(new RoundRobinBalancer());
    try {
      expect(grpc.experimental.isLoadBalancerNameRegistered(CONSUL_LB_POLICY)).toBe(true);
      const parsed = grpc.experimental.parseLoadBalancingConfig(consulLoadBalancingConfig(registration.id) as never);
      expect(parsed.getLoadBalancerName()).toBe(CONSUL_LB_POLICY);
      expect(parsed.toJsonObject()).toEqual({ [CONSUL_LB_POLICY]: { balancer: registration.id } });
      expect(grpc.experimental.selectLbConfigFromList([consulLoadBalancingConfig(registration.id)] as never)).toEqual(
        parsed,
      );
      expect(() => grpc.experimental.parseLoadBalancingConfig({ [CONSUL_LB_POLICY]: {} } as never)).toThrow(
        'needs a "balancer" id',
      );
    } finally {
      registration.unregister();
    }
  });
});

describe('its picker: our LoadBalancer over the READY instances, a lease per started call', () => {
  const [a, b] = [instance('a'), instance('b')];
  const [pickA, pickB] = [childPicker('a'), childPicker('b')];

  it('counts a call from onCallStarted to onCallEnded (once), and nothing for a pick never started', () => {
    const balancer = new LeastOutstandingBalancer();
    const picker = new ConsulPicker([a, b], [pickA, pickB], balancer);
    const dropped = picker.pick(pickArgs); // grpc-js may drop a pick and pick again
    expect(balancer.outstanding('a') + balancer.outstanding('b')).toBe(0);

    const result = picker.pick(pickArgs);
    expect(result.pickResultType).toBe(PickResultType.COMPLETE);
    const chosen = result.subchannel === pickA.subchannel ? 'a' : 'b';
    result.onCallStarted?.();
    expect(balancer.outstanding(chosen)).toBe(1);
    // While it runs, every pick goes to the other instance.
    for (let i = 0; i < 20; i++) {
      expect(picker.pick(pickArgs).subchannel).toBe(chosen === 'a' ? pickB.subchannel : pickA.subchannel);
    }
    const end = result.onCallEnded as unknown as (...args: unknown[]) => void;
    end(grpc.status.OK, '', new grpc.Metadata());
    end(grpc.status.OK, '', new grpc.Metadata());
    expect(balancer.outstanding(chosen)).toBe(0);
    expect(dropped.onCallStarted).toBeInstanceOf(Function); // never called: nothing to release
  });

  it('hands the child result through untouched for a balancer without start()', () => {
    const picker = new ConsulPicker([a, b], [pickA, pickB], { pick: (list) => list[1] });
    const result = picker.pick(pickArgs);
    expect(result.subchannel).toBe(pickB.subchannel);
    expect(result.onCallStarted).toBeNull();
  });

  it('matches an instance the balancer returns as a copy by id', () => {
    const picker = new ConsulPicker([a, b], [pickA, pickB], { pick: () => ({ ...b }) });
    expect(picker.pick(pickArgs).subchannel).toBe(pickB.subchannel);
  });

  it('keeps grpc-js going when a custom start() or its end throws', () => {
    const throwing: LoadBalancer = {
      pick: (list) => list[0],
      start: () => {
        throw new Error('start failed');
      },
    };
    const result = new ConsulPicker([a], [pickA], throwing).pick(pickArgs);
    expect(result.subchannel).toBe(pickA.subchannel); // the call still goes out, uncounted
    expect(() => result.onCallStarted?.()).not.toThrow();
    const endThrows: LoadBalancer = {
      pick: (list) => list[0],
      start: () => () => {
        throw new Error('end failed');
      },
    };
    const other = new ConsulPicker([a], [pickA], endThrows).pick(pickArgs);
    other.onCallStarted?.();
    expect(() =>
      (other.onCallEnded as unknown as (...args: unknown[]) => void)(0, '', new grpc.Metadata()),
    ).not.toThrow();
  });

  it('fails the pick with UNAVAILABLE, naming the cause, when a custom pick() throws', () => {
    const throwing: LoadBalancer = {
      pick: () => {
        throw new Error('no luck');
      },
    };
    const result = new ConsulPicker([a], [pickA], throwing).pick(pickArgs);
    expect(result.pickResultType).toBe(PickResultType.TRANSIENT_FAILURE);
    expect(result.status?.code).toBe(grpc.status.UNAVAILABLE);
    expect(result.status?.details).toContain('no luck');
  });
});

describe('its policy (subchannel stand-ins, no network)', () => {
  function helper() {
    const states: Array<{ state: number; details?: string }> = [];
    const channelHelper = {
      createSubchannel: () => {
        throw new Error('not in these tests');
      },
      updateState: (state: number, picker: experimental.Picker) => {
        const result = picker.pick(pickArgs);
        states.push({ state, details: result.status?.details });
      },
      requestReresolution: () => undefined,
      addChannelzChild: () => undefined,
      removeChannelzChild: () => undefined,
    } as unknown as experimental.ChannelControlHelper;
    return { states, channelHelper };
  }

  it('accepts only its own config', () => {
    const policy = new Policy(helper().channelHelper);
    const other = { getLoadBalancerName: () => 'round_robin', toJsonObject: () => ({}) };
    expect(policy.updateAddressList([], other, {}, '')).toBe(false);
    expect(policy.getTypeName()).toBe(CONSUL_LB_POLICY);
  });

  it('reports a resolution error (grpc-js ≥ 1.14 StatusOr) and an empty list (1.10–1.13 array) as TRANSIENT_FAILURE', () => {
    const { states, channelHelper } = helper();
    const policy = new Policy(channelHelper);
    const registration = registerGrpcBalancer(new RoundRobinBalancer());
    const config = new Config(registration.id);
    policy.updateAddressList({ ok: false, error: { details: 'no instance' } }, config, {}, '');
    policy.updateAddressList([], config, {}, '');
    registration.unregister();
    expect(states).toEqual([
      { state: grpc.connectivityState.TRANSIENT_FAILURE, details: 'no instance' },
      { state: grpc.connectivityState.TRANSIENT_FAILURE, details: `${CONSUL_LB_POLICY}: no addresses resolved` },
    ]);
  });

  it('fails the calls of a channel whose balancer is unknown (closed, or never ours), never borrowing another', () => {
    const { states, channelHelper } = helper();
    const policy = new Policy(channelHelper);
    const endpoints = [{ addresses: [{ host: '127.0.0.1', port: 1 }] }];
    policy.updateAddressList(endpoints, new Config('balancer-none'), {}, '');
    expect(states).toEqual([
      {
        state: grpc.connectivityState.TRANSIENT_FAILURE,
        details:
          `${CONSUL_LB_POLICY} balancer "balancer-none" is not registered with nestjs-consul-kit: ` +
          'its client was closed, or it belongs to no running app',
      },
    ]);
  });

  it('never calls the channel back from inside exitIdle(): its idle children reconnect on the next tick', async () => {
    const created: FakeSubchannel[] = [];
    const states: number[] = [];
    const channelHelper = {
      createSubchannel: (address: experimental.SubchannelAddress) => {
        const subchannel = new FakeSubchannel(address);
        created.push(subchannel);
        return subchannel as unknown as experimental.SubchannelInterface;
      },
      updateState: (state: number) => void states.push(state),
      requestReresolution: () => undefined,
      addChannelzChild: () => undefined,
      removeChannelzChild: () => undefined,
    } as unknown as experimental.ChannelControlHelper;
    const registration = registerGrpcBalancer(new RoundRobinBalancer());
    const policy = new Policy(channelHelper);
    try {
      const [a, b] = [instance('a'), instance('bb')]; // ports 1001 and 1002
      const endpoints = [a, b].map((i) => ({ addresses: [{ host: i.address, port: i.port }] }));
      policy.updateAddressList(endpoints, new Config(registration.id), { [CONSUL_INSTANCES_ATTRIBUTE]: [a, b] }, '');
      expect(created.map((s) => s.address)).toEqual(['127.0.0.1:1001', '127.0.0.1:1002']);
      created.forEach((s) => s.setState(grpc.connectivityState.READY));
      expect(states.at(-1)).toBe(grpc.connectivityState.READY);

      // Instance a's connection goes idle (the server closed it): its child is IDLE until kicked.
      created[0].setState(grpc.connectivityState.IDLE);
      states.length = 0;
      const before = created.length;
      policy.exitIdle();
      expect(states).toEqual([]); // nothing from inside exitIdle()
      expect(created.length).toBe(before);

      await new Promise((resolve) => process.nextTick(resolve));
      // The next tick: a new connection attempt to a (pick_first makes a subchannel for it), and the channel hears of it.
      expect(created.slice(before).map((s) => s.address)).toEqual(['127.0.0.1:1001']);
      expect(states.length).toBeGreaterThan(0);
    } finally {
      policy.destroy();
      registration.unregister();
    }
  });
});

/** A subchannel stand-in: its state is what the test sets, told to its listeners as a real one does. */
class FakeSubchannel {
  readonly address: string;
  private state: number = grpc.connectivityState.IDLE;
  private readonly listeners = new Set<(...args: unknown[]) => void>();

  constructor(address: experimental.SubchannelAddress) {
    this.address = 'host' in address ? `${address.host}:${address.port}` : address.path;
  }

  setState(state: number): void {
    const previous = this.state;
    this.state = state;
    // The listeners as they were: pick_first removes and adds its own while it is told.
    const listeners = Array.from(this.listeners);
    for (const listener of listeners) listener(this, previous, state, 0);
  }

  getConnectivityState = () => this.state;
  addConnectivityStateListener = (listener: (...args: unknown[]) => void) => void this.listeners.add(listener);
  removeConnectivityStateListener = (listener: (...args: unknown[]) => void) => void this.listeners.delete(listener);
  startConnecting = () => undefined;
  getAddress = () => this.address;
  throttleKeepalive = () => undefined;
  ref = () => undefined;
  unref = () => undefined;
  getChannelzRef = () => ({ kind: 'subchannel', id: 0, name: this.address });
  isHealthy = () => true;
  addHealthStateWatcher = () => undefined;
  removeHealthStateWatcher = () => undefined;
  addDataWatcher = () => undefined;
  realSubchannelEquals = (other: unknown) => other === this;
}
