import type { Metadata } from '@grpc/grpc-js';
import type { Attributes, TextMapGetter } from '@opentelemetry/api';
import type { ServiceInstance } from '../common/service-instance.js';
import { ATTR } from './instrument-names.js';
import { loadedOtelApi } from './otel-api.js';

const attributesOf = new WeakMap<ServiceInstance, Attributes>();

/** Reads the trace context instrumentation-grpc injected into a call's metadata. */
const metadataGetter: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key);
    return values.length ? values.map(String) : undefined;
  },
};

/**
 * Tells the span active where grpc-js picks (the CLIENT span of `@opentelemetry/instrumentation-grpc`,
 * or the caller's own) which instance our policy chose: only we know it. A call re-picked by
 * grpc-js (a transparent retry, a connection lost before the call started) is an event per pick,
 * and the attributes name the last one. Costs a context lookup per pick when nothing records.
 *
 * Calls made while the channel still connects wait, and grpc-js picks them all at once when it
 * has connected, in the context of the call that started the connection: the span active there
 * is that call's, not theirs. When the call's metadata carries a trace context (instrumentation-grpc
 * injects its CLIENT span's when a propagator is registered) naming another span, the pick is
 * not noted; without one, nothing tells the calls apart.
 */
export function notePick(instance: ServiceInstance, metadata: Metadata): void {
  const otel = loadedOtelApi();
  const span = otel?.trace.getActiveSpan();
  if (!otel || !span?.isRecording()) return;
  const callSpan = otel.trace.getSpanContext(otel.propagation.extract(otel.ROOT_CONTEXT, metadata, metadataGetter));
  if (callSpan && callSpan.spanId !== span.spanContext().spanId) return;
  let attributes = attributesOf.get(instance);
  if (!attributes) {
    attributes = {
      [ATTR.instanceId]: instance.id,
      [ATTR.serverAddress]: instance.address,
      [ATTR.serverPort]: instance.port,
    };
    attributesOf.set(instance, attributes);
  }
  span.addEvent('consul.pick', attributes);
  span.setAttributes(attributes);
}
