// The upstreams of the clients benchmark, in a process of their own so that the client's CPU
// time is all the client's: two gRPC greeters and two HTTP servers on 127.0.0.1, plain grpc-js
// and node:http (the cheapest servers, so the client side dominates what is measured).
// Prints one JSON line with the ports, then serves until SIGTERM or until stdin closes (the
// parent died): it never outlives the benchmark.
//   node upstreams.js <hello.proto>
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const loader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');

const protoPath = process.argv[2];
const hello = grpc.loadPackageDefinition(loader.loadSync(protoPath)).hello as unknown as {
  Greeter: { service: import('@grpc/grpc-js').ServiceDefinition };
};

function startGreeter(name: string): Promise<{ server: import('@grpc/grpc-js').Server; port: number }> {
  const server = new grpc.Server();
  server.addService(hello.Greeter.service, {
    Hello: (call: { request: { name: string } }, callback: (error: null, reply: { message: string }) => void) =>
      callback(null, { message: `${name}:${call.request.name}` }),
  });
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve({ server, port }),
    ),
  );
}

function startWeb(name: string): Promise<{ server: Server; port: number }> {
  const body = JSON.stringify({ name });
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port })),
  );
}

const greeters = await Promise.all([startGreeter('a'), startGreeter('b')]);
const webs = await Promise.all([startWeb('one'), startWeb('two')]);
process.stdout.write(`${JSON.stringify({ grpc: greeters.map((g) => g.port), http: webs.map((w) => w.port) })}\n`);

function stop(): void {
  for (const { server } of greeters) server.forceShutdown();
  for (const { server } of webs) server.close();
  for (const { server } of webs) server.closeAllConnections();
  process.exit(0);
}
process.once('SIGTERM', stop);
process.stdin.on('end', stop).resume();
