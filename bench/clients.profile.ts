// One side of the clients benchmark, alone and long enough to profile:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof .bench-dist/bench/clients.profile.js <side> [calls] [in flight]
// Sides: consulCall, consulOnceCall, nestCall, rawCall (gRPC, 50 in flight by default), httpCall,
// undiciCall (HTTP, 20 by default). The upstreams run in another process, so the profile is the
// client's; with UPSTREAMS_CPU_PROF=<dir> the upstreams write theirs there too.
import 'reflect-metadata';
import { startAgent } from './context.js';
import { startClientSides } from './clients.bench.js';
import { load } from './stats.js';

const [side = 'httpCall', count = '100000', inFlight] = process.argv.slice(2);
const agent = await startAgent();
try {
  const { calls, close } = await startClientSides(agent);
  try {
    const call = calls[side as keyof typeof calls];
    if (!call) throw new Error(`no side "${side}": use one of ${Object.keys(calls).join(', ')}`);
    const concurrency = Number(inFlight ?? (side.startsWith('http') || side.startsWith('undici') ? 20 : 50));
    await load(call, 2_000, concurrency); // warm-up
    const result = await load(call, Number(count), concurrency);
    process.stdout.write(
      `${side}, ${concurrency} in flight: ${Math.round(result.perSecond)} calls/s, ${result.cpuPerCall.toFixed(1)} µs CPU/call\n`,
    );
  } finally {
    await close();
  }
} finally {
  await agent.stop();
}
process.exit(0);
