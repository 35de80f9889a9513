import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Transport } from '@nestjs/microservices';
import { ConsulModule, type ConsulModuleOptions, ConsulOptionsError } from '../../lib/index.js';
import { resolveConsulOptions } from '../../lib/options/options.validator.js';

/** Creating the app is where a user meets bad options: no agent is needed, and none is contacted. */
async function createWith(consul: ReturnType<typeof ConsulModule.forRoot>): Promise<unknown> {
  @Module({ imports: [consul] })
  class AppModule {}
  try {
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    await app.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('ConsulModule option validation at app creation', () => {
  it.each<[string, unknown, string]>([
    ['missing service.name', { service: {} }, 'service.name: is required'],
    [
      'registration without a service',
      { registration: { enabled: true } },
      'registration.enabled: is true but there is no service to register',
    ],
    [
      'a service name with a space',
      { service: { name: 'user api' } },
      'service.name: "user api" is not a valid service name',
    ],
    ['a port out of range', { service: { name: 'a', port: 70000 } }, 'service.port: 70000 is not a port'],
    [
      'a bad duration',
      { service: { name: 'a', check: { interval: 'soon' } } },
      'service.check.interval: "soon" is not a duration',
    ],
    [
      'an unknown check type',
      { service: { name: 'a', check: { type: 'udp' } } },
      'service.check.type: "udp" is not one of',
    ],
  ])('rejects %s, naming the option', async (_case, options, expected) => {
    const error = await createWith(ConsulModule.forRoot(options as ConsulModuleOptions));
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as Error).message).toContain(expected);
  });

  it('validates forRootAsync options too, and lists every problem at once', async () => {
    const error = await createWith(
      ConsulModule.forRootAsync({
        useFactory: () =>
          ({ service: { name: '' }, consul: { port: 0 }, registration: { drainDelay: 'x' } }) as ConsulModuleOptions,
      }),
    );
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as ConsulOptionsError).problems.map((p) => p.option).toSorted()).toEqual([
      'consul.port',
      'registration.drainDelay',
      'service.name',
    ]);
  });

  it('never echoes the ACL token in an error', async () => {
    const error = await createWith(
      ConsulModule.forRoot({ consul: { token: 's3cr3t', port: -1 }, service: { name: 'x y' } } as ConsulModuleOptions),
    );
    expect((error as Error).message).not.toContain('s3cr3t');
  });

  it('takes no service at all: an app that only discovers or reads configuration registers nothing', () => {
    const resolved = resolveConsulOptions({ discovery: { loadBalancer: 'random' } });
    expect(resolved.service).toBeUndefined();
    expect(resolved.registration.enabled).toBe(false);
    expect(resolved.discovery.loadBalancer).toBe('random');
  });

  it('rejects HTTP client pool options undici would refuse, naming the client and the option', async () => {
    @Module({
      imports: [
        ConsulModule.forRoot({}),
        ConsulModule.forFeature([
          { service: 'user_api', transport: 'http', options: { connections: 0, tls: 'yes' as never } },
        ]),
      ],
    })
    class AppModule {}
    const error = await NestFactory.create(AppModule, { logger: false, abortOnError: false }).then(
      async (app) => {
        await app.close();
        return undefined;
      },
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as ConsulOptionsError).problems.map((p) => p.option)).toEqual([
      'ConsulModule.forFeature() client "user_api": options.connections',
      'ConsulModule.forFeature() client "user_api": options.tls',
    ]);
  });

  it('rejects a bad per-client loadBalancer (gRPC included) and a factory that makes no balancer, naming the option', async () => {
    const failure = async (clients: Parameters<typeof ConsulModule.forFeature>[0]) => {
      @Module({ imports: [ConsulModule.forRoot({}), ConsulModule.forFeature(clients)] })
      class AppModule {}
      return NestFactory.create(AppModule, { logger: false, abortOnError: false }).then(
        async (app) => {
          await app.close();
          return undefined;
        },
        (error: unknown) => error,
      );
    };
    const grpc = await failure([
      {
        service: 'greeter',
        transport: Transport.GRPC,
        options: { package: 'hello', protoPath: 'hello.proto' },
        loadBalancer: 'fastest' as never,
      },
    ]);
    expect(grpc).toBeInstanceOf(ConsulOptionsError);
    expect((grpc as ConsulOptionsError).problems).toEqual([
      expect.objectContaining({
        option: 'ConsulModule.forFeature() client "greeter": loadBalancer',
        problem: '"fastest" is not a load balancer',
      }),
    ]);

    const factory = await failure([{ service: 'user_api', transport: 'http', loadBalancer: () => ({}) as never }]);
    expect(factory).toBeInstanceOf(ConsulOptionsError);
    expect((factory as ConsulOptionsError).problems[0].option).toBe(
      'ConsulModule.forFeature() client "user_api": loadBalancer',
    );
  });
});
