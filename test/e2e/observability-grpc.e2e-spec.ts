import { fileURLToPath } from 'node:url';
import { SpanKind } from '@opentelemetry/api';
import { HELLO_PROTO } from '../helpers/consul-microservice.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
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

// instrumentation-grpc hooks require(), which Jest's module registry bypasses: the traced caller
// runs in its own process (test/fixtures/grpc-traced-app.mjs, on dist/ as `npm test` builds it).
describe('@opentelemetry/instrumentation-grpc and our gRPC policy (real SDK, real Consul agent)', () => {
  const suite = useConsulAgent();

  it("names the instance our policy picked on instrumentation-grpc's CLIENT span of each call", async () => {
    const greeters = await Promise.all([startGreeter('g1'), startGreeter('g2')]);
    try {
      for (const [i, g] of greeters.entries()) {
        await suite.agent.register(ttlInstance(`traced-greeter-${i}`, 'traced_greeter', g.port));
      }
      const run = runScript(
        ['-c', 'exec "$0" "$@"', process.execPath, TRACED_APP, String(suite.agent.httpPort), 'traced_greeter'].concat(
          HELLO_PROTO,
          String(CALLS),
        ),
        { cwd: ROOT, timeoutMs: 30_000 },
      );
      const { stdout, stderr, code } = await run.done;
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Partial<SpanLine> & { answer?: string });
      const answers = lines.filter((l) => l.answer !== undefined);
      expect(answers).toHaveLength(CALLS + 1);

      const clientSpans = lines.filter((l): l is SpanLine => l.span !== undefined && l.kind === SpanKind.CLIENT);
      // One per call, the warm-up's included, each the root of its own trace.
      expect(clientSpans).toHaveLength(CALLS + 1);
      expect(new Set(clientSpans.map((s) => s.traceId)).size).toBe(CALLS + 1);
      const byId = new Map(greeters.map((g, i) => [`traced-greeter-${i}`, g]));
      for (const span of clientSpans) {
        expect(span.span).toBe('grpc.hello.Greeter/Hello');
        expect(span.parentSpanId).toBeUndefined();
        expect(span.attributes).toMatchObject({
          'rpc.system': 'grpc',
          'rpc.service': 'hello.Greeter',
          'rpc.method': 'Hello',
        });
      }
      // Spans end in call order: the warm-up's first. That call waits for the channel to connect and
      // is picked again once it has; whether that pick still runs in the call's context is grpc-js's
      // affair, so only the later calls, picked where instrumentation-grpc started them, are asserted.
      const picked = clientSpans.slice(1);
      expect(picked.map((s) => s.events)).toEqual(Array(CALLS).fill(['consul.pick']));
      for (const span of picked) {
        const instance = byId.get(span.attributes['consul.instance.id'] as string);
        expect(instance).toBeDefined();
        expect(span.attributes).toMatchObject({ 'server.address': '127.0.0.1', 'server.port': instance!.port });
      }
      // The instance named is the one that answered (greeter gN is traced-greeter-(N-1)), and both did.
      const servedBy = answers.slice(1).map((a) => `traced-greeter-${Number(a.answer!.slice(1, 2)) - 1}`);
      expect(picked.map((s) => s.attributes['consul.instance.id'])).toEqual(servedBy);
      expect(new Set(servedBy)).toEqual(new Set(byId.keys()));
    } finally {
      await Promise.all(greeters.map((g) => g.app.close()));
    }
  });
});
