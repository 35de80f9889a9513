import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { HELLO_PROTO } from '../helpers/consul-microservice.js';
import { useConsulAgent, type AgentSuite } from '../helpers/agent-suite.js';
import { runScript } from '../helpers/run-script.js';
import { ttlInstance } from '../helpers/service-checks.js';
import { startGreeter } from '../helpers/upstreams.js';

const TRACED_APP = fileURLToPath(new URL('../fixtures/grpc-traced-app.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CALLS = 6;

interface SpanLine {
  span: string;
  kind: SpanKind;
  attributes: Record<string, unknown>;
  events: string[];
  traceId: string;
  parentSpanId?: string;
}

interface TracedRun {
  /** Who answered each call (`traced-greeter-N`), the first calls' first, in the order they were made. */
  servedBy: string[];
  /** instrumentation-grpc's CLIENT spans, in the order they ended. */
  clientSpans: SpanLine[];
  /** The greeters' ports by instance id. */
  ports: Map<string, number>;
}

/**
 * Registers two greeters and runs test/fixtures/grpc-traced-app.mjs against them: `first` calls at
 * once while the channel connects, then CALLS one after the other. instrumentation-grpc hooks
 * require(), which Jest's module registry bypasses, so the traced caller runs in its own process,
 * on dist/ (as `npm test` builds it), stopped by its pid if it outlives the timeout.
 */
async function tracedRun(suite: AgentSuite, service: string, first: number): Promise<TracedRun> {
  const greeters = await Promise.all([startGreeter('g0'), startGreeter('g1')]);
  try {
    for (const [i, g] of greeters.entries())
      await suite.agent.register(ttlInstance(`${service}-${i}`, service, g.port));
    const args = [TRACED_APP, String(suite.agent.httpPort), service, HELLO_PROTO, String(CALLS), String(first)];
    const { stdout, stderr, code } = await runScript(['-c', 'exec "$0" "$@"', process.execPath, ...args], {
      cwd: ROOT,
      timeoutMs: 30_000,
    }).done;
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Partial<SpanLine> & { answer?: string });
    const servedBy = lines.filter((l) => l.answer !== undefined).map((l) => `${service}-${l.answer!.slice(1, 2)}`);
    expect(servedBy).toHaveLength(first + CALLS);
    const clientSpans = lines.filter((l): l is SpanLine => l.span !== undefined && l.kind === SpanKind.CLIENT);
    // One per call, each the root of its own trace.
    expect(clientSpans).toHaveLength(first + CALLS);
    expect(new Set(clientSpans.map((s) => s.traceId)).size).toBe(first + CALLS);
    for (const span of clientSpans) {
      expect(span.span).toBe('grpc.hello.Greeter/Hello');
      expect(span.parentSpanId).toBeUndefined();
      expect(span.attributes).toMatchObject({
        'rpc.system': 'grpc',
        'rpc.service': 'hello.Greeter',
        'rpc.method': 'Hello',
      });
    }
    return { servedBy, clientSpans, ports: new Map(greeters.map((g, i) => [`${service}-${i}`, g.port])) };
  } finally {
    await Promise.all(greeters.map((g) => g.app.close()));
  }
}

/** The span names an instance that answered one of our calls, with its address and port. */
function expectNamesInstance(span: SpanLine, ports: Map<string, number>): void {
  const id = span.attributes['consul.instance.id'] as string;
  expect(ports.has(id)).toBe(true);
  expect(span.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': ports.get(id) });
}

describe('@opentelemetry/instrumentation-grpc and our gRPC policy (real SDK, real Consul agent)', () => {
  const suite = useConsulAgent();

  it("names the instance our policy picked on instrumentation-grpc's CLIENT span of each call", async () => {
    const { servedBy, clientSpans, ports } = await tracedRun(suite, 'traced_greeter', 1);
    // Spans end in call order here. Each call after the first, made on a connected channel, is
    // picked where instrumentation-grpc started it: its span names the instance that answered.
    const connected = clientSpans.slice(1);
    expect(connected.map((s) => s.events)).toEqual(Array.from({ length: CALLS }, () => ['consul.pick']));
    connected.forEach((span) => expectNamesInstance(span, ports));
    expect(connected.map((s) => s.attributes['consul.instance.id'])).toEqual(servedBy.slice(1));
    expect(new Set(servedBy.slice(1))).toEqual(new Set(ports.keys()));
  });

  it('does not name, on the span of the call that connected the channel, the picks of the calls that waited', async () => {
    const first = 4;
    const { servedBy, clientSpans, ports } = await tracedRun(suite, 'queued_greeter', first);
    // grpc-js picks the waiting calls together, in the context of the call that started connecting.
    // The trace context in each call's metadata tells those picks apart: at most one per span.
    const waited = clientSpans.slice(0, first);
    for (const span of waited) {
      expect(span.events.filter((e) => e === 'consul.pick').length).toBeLessThanOrEqual(1);
      if (span.events.length) expectNamesInstance(span, ports);
    }
    const connected = clientSpans.slice(first);
    expect(connected.map((s) => s.events)).toEqual(Array.from({ length: CALLS }, () => ['consul.pick']));
    expect(connected.map((s) => s.attributes['consul.instance.id'])).toEqual(servedBy.slice(first));
  });
});
