import { Module, type INestApplication, type Type, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConsulModule, type ConsulModuleOptions } from '../lib/index.js';
import { ConsulAgent } from '../test/helpers/consul-agent.js';

/** One real agent for the whole run, with room for a thousand concurrent blocking queries. */
export async function startAgent(): Promise<ConsulAgent> {
  return ConsulAgent.start({ hcl: ['limits { http_max_conns_per_client = 5000 }'] });
}

/** A quiet Nest app with ConsulModule (registration off unless asked) pointed at `port`. */
export async function startApp(
  port: number,
  extra: Partial<ConsulModuleOptions> = {},
  imports: Array<Type | DynamicModule> = [],
  listen = true,
): Promise<INestApplication> {
  @Module({
    imports: [
      ConsulModule.forRoot({
        consul: { host: '127.0.0.1', port },
        service: { name: 'bench_app', address: '127.0.0.1' },
        registration: { enabled: false },
        ...extra,
      }),
      ...imports,
    ],
  })
  class BenchModule {}
  const app = await NestFactory.create(BenchModule, { logger: false });
  if (listen) await app.listen(0, '127.0.0.1');
  return app;
}

export async function registerTtl(
  agent: ConsulAgent,
  name: string,
  id: string,
  port: number,
  status = 'passing',
  meta = {},
) {
  await agent.register({
    ID: id,
    Name: name,
    Address: '127.0.0.1',
    Port: port,
    Meta: meta,
    Check: { CheckID: `service:${id}`, TTL: '10m', Status: status },
  });
}
