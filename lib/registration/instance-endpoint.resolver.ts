import type { Logger } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import type { ConsulCheckType } from '../options/service.options.js';
import type { ResolvedConsulOptions, ResolvedServiceOptions } from '../core/consul-module.options.js';
import { type AddressSources, detectAddress, systemAddressSources } from './address.detector.js';
import { defaultInstanceId } from './instance-id.js';
import { waitForPort } from './port-waiter.js';
import type { InstanceEndpoint } from './service-definition.js';

const WILDCARDS = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0', '']);

export interface EndpointContext {
  options: ResolvedConsulOptions;
  /** The app's service (an app without one never gets here). */
  service: ResolvedServiceOptions;
  /** The HTTP server, for the service it serves; none for a hybrid app's microservices (their own port and address). */
  adapterHost?: HttpAdapterHost;
  checkType: ConsulCheckType;
  logger: Logger;
  addressSources?: AddressSources;
}

/**
 * Waits until the app is really reachable and says where: the HTTP server's real port once
 * it listens (so `listen(0)` works), or the configured port once it accepts connections
 * (microservices). Resolves `undefined` if `signal` aborts first (the app is shutting down).
 */
export async function awaitInstanceEndpoint(
  ctx: EndpointContext,
  signal: AbortSignal,
): Promise<InstanceEndpoint | undefined> {
  const { adapterHost } = ctx;
  if (adapterHost?.httpAdapter && !(await httpListening(adapterHost, signal))) return undefined;
  const endpoint = await endpointNow(ctx, httpAddress(adapterHost));
  if (!endpoint) return undefined; // no port: ruled out by resolveCheckType; kept for the type checker
  const { address, port } = endpoint;
  if (port !== endpoint.httpPort) {
    const slow = () => ctx.logger.warn(`Still waiting for ${address}:${port} to accept connections before registering`);
    if (!(await waitForPort(address, port, signal, slow))) return undefined;
  }
  return endpoint;
}

/** The endpoint right now, without waiting: for `ConsulRegistrar.register()` called by hand. */
export function currentInstanceEndpoint(ctx: EndpointContext): Promise<InstanceEndpoint | undefined> {
  return endpointNow(ctx, ctx.adapterHost?.listening ? httpAddress(ctx.adapterHost) : undefined);
}

/** The HTTP server's bound address and port, if it has one. */
function httpAddress(adapterHost: HttpAdapterHost | undefined): AddressInfo | undefined {
  const info = adapterHost?.httpAdapter?.getHttpServer().address();
  return info && typeof info === 'object' ? info : undefined;
}

/** The endpoint from `service.port` or the HTTP server's port; `undefined` when neither is known. */
async function endpointNow(ctx: EndpointContext, http: AddressInfo | undefined): Promise<InstanceEndpoint | undefined> {
  const { service } = ctx;
  const port = service.port ?? http?.port;
  if (port === undefined) return undefined;
  const { address, how } = await registeredAddress(ctx, http);
  return {
    id: service.id ?? defaultInstanceId(service.name, port),
    address,
    addressChosenBy: how,
    port,
    checkType: ctx.checkType,
    httpPort: http?.port,
  };
}

/** The address to register, and which rule chose it. */
async function registeredAddress(
  ctx: EndpointContext,
  http: AddressInfo | undefined,
): Promise<{ address: string; how: string }> {
  if (ctx.service.address) return { address: ctx.service.address, how: 'service.address' };
  // A server bound to one address is reachable only there: register exactly that.
  if (
    http &&
    !WILDCARDS.has(http.address) &&
    !ctx.options.address.interface &&
    ctx.options.address.preferredNetworks.length === 0
  ) {
    return { address: http.address.replace(/^::ffff:(?=\d+\.)/, ''), how: 'the address the HTTP server is bound to' };
  }
  return detectAddress(ctx.options.address, ctx.addressSources ?? systemAddressSources);
}

function httpListening(host: HttpAdapterHost, signal: AbortSignal): Promise<boolean> {
  if (host.listening) return Promise.resolve(true);
  return new Promise((resolve) => {
    const subscription = host.listen$.subscribe(() => finish(true));
    const onAbort = () => finish(false);
    function finish(listening: boolean) {
      subscription.unsubscribe();
      signal.removeEventListener('abort', onAbort);
      resolve(listening);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
