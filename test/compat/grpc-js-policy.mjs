// The consul: resolver and the nestjs_consul_kit policy on another @grpc/grpc-js than the one installed
// (the peer range is >=1.10 <1.15; the suite runs on 1.14). Not part of `npm test`: it needs a second install.
//   npm run build
//   mkdir -p /tmp/grpcjs && cd /tmp/grpcjs && npm init -y && npm install @grpc/grpc-js@1.10.0
//   cp -r <repo>/dist . && echo '{"type":"module"}' > dist/package.json
//   ln -s <repo>/node_modules/rxjs node_modules/rxjs && cp <repo>/test/compat/grpc-js-policy.mjs . && node grpc-js-policy.mjs
// Checks, with two real grpc-js servers: least-outstanding steers every call away from an instance holding a
// slow call and releases the lease when it ends; weighted splits 3:1 and follows a reweighting from the source.
import { createRequire } from 'node:module';
import { BehaviorSubject } from 'rxjs';
const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js');
const { registerInstanceSource } = await import('./dist/clients/grpc/consul-grpc.resolver.js');
const { registerGrpcBalancer, consulLoadBalancingConfig } = await import('./dist/clients/grpc/consul-grpc.balancer.js');
const { LeastOutstandingBalancer } = await import('./dist/balancing/least-outstanding.balancer.js');
const { WeightedBalancer } = await import('./dist/balancing/weighted.balancer.js');
const version = require('@grpc/grpc-js/package.json').version;

const identity = {
  path: '/t.T/Who',
  requestStream: false,
  responseStream: false,
  requestSerialize: (b) => b,
  requestDeserialize: (b) => b,
  responseSerialize: (b) => b,
  responseDeserialize: (b) => b,
};
let releaseSlow;
async function server(name) {
  const s = new grpc.Server();
  s.addService(
    { Who: identity },
    {
      Who: (call, cb) => {
        if (call.request.toString() === 'slow') {
          releaseSlow = () => cb(null, Buffer.from(name));
          return;
        }
        cb(null, Buffer.from(name));
      },
    },
  );
  const port = await new Promise((res, rej) =>
    s.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return { s, port, name };
}
const [a, b] = await Promise.all([server('a'), server('b')]);
const inst = (srv, passing) => ({
  id: srv.name,
  service: 'svc',
  address: '127.0.0.1',
  port: srv.port,
  tags: [],
  meta: {},
  weights: { passing, warning: 1 },
  dc: 'dc1',
  node: 'n',
  status: 'passing',
});
const list = new BehaviorSubject([inst(a, 3), inst(b, 1)]);
const source = registerInstanceSource(() => list);
const Client = grpc.makeGenericClientConstructor({ Who: identity }, 't');
function clientFor(balancer) {
  const reg = registerGrpcBalancer(balancer);
  const channel = new grpc.Channel(`consul://${source.id}/svc`, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [consulLoadBalancingConfig(reg.id)] }),
  });
  const client = new Client('unused', grpc.credentials.createInsecure(), { channelOverride: channel });
  const who = (req = 'x') =>
    new Promise((res, rej) => client.Who(Buffer.from(req), (e, r) => (e ? rej(e) : res(r.toString()))));
  return {
    who,
    close: () => {
      client.close();
      reg.unregister();
    },
  };
}
const fail = (msg) => {
  console.error(`grpc-js ${version}: FAIL ${msg}`);
  process.exit(1);
};

// least-outstanding: one slow call in flight holds its instance; the next calls go to the other.
const lo = new LeastOutstandingBalancer();
const c1 = clientFor(lo);
const seen = new Set();
for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(await c1.who());
if (seen.size < 2) fail('both instances never answered');
const slow = c1.who('slow');
const until = async (ready) => {
  for (let i = 0; i < 1000 && !ready(); i++) await new Promise((r) => setTimeout(r, 5));
};
await until(() => releaseSlow !== undefined);
const busy =
  lo.outstanding('a') === 1
    ? 'a'
    : lo.outstanding('b') === 1
      ? 'b'
      : fail(`no call counted: a=${lo.outstanding('a')} b=${lo.outstanding('b')}`);
const answers = [];
for (let i = 0; i < 20; i++) answers.push(await c1.who());
if (answers.some((n) => n === busy)) fail(`a call went to the busy instance ${busy}: ${answers}`);
releaseSlow();
releaseSlow = undefined;
if ((await slow) !== busy) fail('slow call answered by the wrong instance');
await new Promise((r) => setTimeout(r, 20));
if (lo.outstanding('a') + lo.outstanding('b') !== 0) fail('leases not released');
c1.close();

// weighted 3:1
const c2 = clientFor(new WeightedBalancer());
const counts = { a: 0, b: 0 };
for (let i = 0; i < 50; i++) await c2.who(); // warm both connections
counts.a = counts.b = 0;
await Promise.all(Array.from({ length: 800 }, async () => counts[await c2.who()]++));
const share = counts.a / 800;
if (Math.abs(share - 0.75) > 0.06) fail(`weighted share of a ${share}`);
// a catalog change with new weights reaches the picker, same connections
list.next([inst(a, 1), inst(b, 1)]);
await new Promise((r) => setTimeout(r, 50));
counts.a = counts.b = 0;
await Promise.all(Array.from({ length: 800 }, async () => counts[await c2.who()]++));
if (Math.abs(counts.a / 800 - 0.5) > 0.07) fail(`after reweighting, share of a ${counts.a / 800}`);
c2.close();
console.log(
  `grpc-js ${version}: OK (least-outstanding steered ${answers.length} calls away from busy "${busy}"; weighted 3:1 gave a ${share.toFixed(3)}; reweighted 1:1 gave ${(counts.a / 800).toFixed(3)})`,
);
a.s.forceShutdown();
b.s.forceShutdown();
source.unregister();
process.exit(0);
