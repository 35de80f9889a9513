// One side of the Connect benchmark, alone and long enough to profile:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof .bench-dist/bench/connect.profile.js <side> [calls] [in flight]
// Sides: connectHttp, tlsHttp, undiciHttp, connectHttpReconnect, tlsHttpReconnect, connectGrpc,
// tlsGrpc, nestGrpc (50 in flight by default). The servers run in another process, so the
// profile is the client's; with CONNECT_SERVERS_CPU_PROF=<dir> the servers write theirs there too.
import 'reflect-metadata';
import { startAgent } from './context.js';
import { startConnectSides } from './connect.bench.js';
import { load } from './stats.js';

const [side = 'connectHttp', count = '20000', inFlight = '50'] = process.argv.slice(2);
const agent = await startAgent();
try {
  const { calls, serverCpu, close } = await startConnectSides(agent);
  try {
    const call = calls[side as keyof typeof calls];
    if (!call) throw new Error(`no side "${side}": use one of ${Object.keys(calls).join(', ')}`);
    await load(call, 2_000, Number(inFlight)); // warm-up
    const before = await serverCpu();
    const result = await load(call, Number(count), Number(inFlight));
    const server = ((await serverCpu()) - before) / Number(count);
    process.stdout.write(
      `${side}, ${inFlight} in flight: ${Math.round(result.perSecond)} calls/s, ` +
        `${result.cpuPerCall.toFixed(1)} µs client + ${server.toFixed(1)} µs server CPU/call\n`,
    );
  } finally {
    await close();
  }
} finally {
  await agent.stop();
}
process.exit(0);
