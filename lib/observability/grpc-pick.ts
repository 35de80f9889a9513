import type { Attributes } from '@opentelemetry/api';
import type { ServiceInstance } from '../discovery/service-instance.js';
import { ATTR } from './instrument-names.js';
import { optionalOtelApi } from './otel-api.js';

const attributesOf = new WeakMap<ServiceInstance, Attributes>();

/**
 * Tells the span active where grpc-js picks (the CLIENT span of `@opentelemetry/instrumentation-grpc`,
 * or the caller's own) which instance our policy chose: only we know it. A call re-picked by
 * grpc-js (a transparent retry, a connection lost before the call started) is an event per pick,
 * and the attributes name the last one. Costs a context lookup per pick when nothing records.
 *
 * A call made while the channel still connects is picked later, from grpc-js's own callbacks,
 * outside the caller's context: such a pick names no span.
 */
export function notePick(instance: ServiceInstance): void {
  const span = optionalOtelApi()?.trace.getActiveSpan();
  if (!span?.isRecording()) return;
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
