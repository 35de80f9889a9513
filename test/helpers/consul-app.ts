import { type DynamicModule, Module, type Provider, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { ConsulModule, type ConsulModuleOptions } from '../../lib/index.js';
import { CapturingLogger } from './capturing-logger.js';
import type { ConsulAgent } from './consul-agent.js';
import { HttpUpstream } from './http-upstream.js';

export interface TestApp {
  app: INestApplication;
  logger: CapturingLogger;
  port: number;
}

/** Module options pointing at `agent`, fast intervals for tests, registered on 127.0.0.1 (if there is a service). */
export function consulOptions(agent: ConsulAgent, overrides: ConsulModuleOptions = {}): ConsulModuleOptions {
  const { service } = overrides;
  return {
    ...overrides,
    consul: { host: agent.host, port: agent.httpPort, timeout: '2s', ...overrides.consul },
    service: service && { address: '127.0.0.1', ...service, check: { interval: '1s', ...service.check } },
    registration: { retry: { initialDelay: '200ms', maxDelay: '1s' }, ...overrides.registration },
    discovery: {
      dns: { host: agent.host, port: agent.ports.dns },
      retry: { initialDelay: '200ms', maxDelay: '1s' },
      ...overrides.discovery,
    },
  };
}

/**
 * An HTTP app importing `ConsulModule.forRoot(options)`, listening on 127.0.0.1 on a free port. `configure`
 * runs before `listen()`, where a user sets a global prefix or versioning.
 */
export async function startHttpApp(
  options: ConsulModuleOptions | DynamicModule,
  extra: {
    imports?: Array<Type | DynamicModule>;
    providers?: Provider[];
    controllers?: Type[];
    listen?: boolean;
    configure?: (app: INestApplication) => void;
    /** Serve HTTPS (e.g. `consulConnectHttpsOptions()`). */
    httpsOptions?: Record<string, unknown>;
  } = {},
): Promise<TestApp> {
  const consul = 'module' in options ? options : ConsulModule.forRoot(options);
  @Module({
    imports: [consul, ...(extra.imports ?? [])],
    providers: extra.providers ?? [],
    controllers: extra.controllers ?? [],
  })
  class AppModule {}
  const logger = new CapturingLogger();
  const app = await NestFactory.create(AppModule, { logger, abortOnError: false, httpsOptions: extra.httpsOptions });
  extra.configure?.(app);
  let port = 0;
  if (extra.listen !== false) {
    await app.listen(0, '127.0.0.1');
    port = (app.getHttpServer().address() as { port: number }).port;
  }
  return { app, logger, port };
}

/** What `app.listen()` rejects with (bootstrap errors), or undefined if it starts. */
export function listenFailure(app: INestApplication): Promise<Error | undefined> {
  return app.listen(0, '127.0.0.1').then(
    () => undefined,
    (error: Error) => error,
  );
}

/**
 * The subject of the reliability suites: `greeting` in KV for the app, two `who` upstreams (added to
 * `upstreams`, which the suite closes) and an HTTP app reading KV configuration that reaches Consul
 * through `port`: a relay or a proxy in front of `agent`.
 */
export async function startAppBehind(
  agent: ConsulAgent,
  port: number,
  upstreams: HttpUpstream[],
  options: ConsulModuleOptions & { service: { name: string } },
  extra: { imports?: Array<Type | DynamicModule> } = {},
): Promise<TestApp> {
  await agent.api(`/v1/kv/config/${options.service.name}/greeting`, { method: 'PUT', body: 'hello' });
  upstreams.push(await HttpUpstream.start(agent, 'who', 'who-1'), await HttpUpstream.start(agent, 'who', 'who-2'));
  return startHttpApp(
    consulOptions(agent, {
      ...options,
      consul: { port, ...options.consul },
      config: { profiles: [], ...options.config },
    }),
    extra,
  );
}
