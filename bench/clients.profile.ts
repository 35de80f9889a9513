// One side of the clients benchmark, alone and long enough to profile:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof .bench-dist/bench/clients.profile.js <side> [calls]
// Sides: consulCall, consulOnceCall, nestCall, rawCall (gRPC, 50 concurrent), httpCall, undiciCall
// (HTTP, 20 concurrent). The upstreams run in another process, so the profile is the client's.
import 'reflect-metadata';
import { startAgent } from './context.js';
import { startClientSides } from './clients.bench.js';
import { load } from './stats.js';

const [side = 'httpCall', count = '100000'] = process.argv.slice(2);
const agent = await startAgent();
try {
  const { calls, close } = await startClientSides(agent);
  try {
    const call = calls[side as keyof typeof calls];
    if (!call) throw new Error(`no side "${side}": use one of ${Object.keys(calls).join(', ')}`);
    const concurrency = side.startsWith('http') || side.startsWith('undici') ? 20 : 50;
    await load(call, 2_000, concurrency); // warm-up
    const result = await load(call, Number(count), concurrency);
    process.stdout.write(`${side}: ${Math.round(result.perSecond)} calls/s\n`);
  } finally {
    await close();
  }
} finally {
  await agent.stop();
}
process.exit(0);
