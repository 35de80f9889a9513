import { type DynamicModule, Module } from '@nestjs/common';
import { Transport } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import { ConsulConfigModule, ConsulModule, type ConsulModuleOptions, ConsulOptionsError } from '../../lib/index.js';
import { resolveConsulOptions } from '../../lib/core/consul-module.options.js';

/** Creating the app is where a user meets bad options: no agent is needed, and none is contacted. */
async function createWith(...imports: DynamicModule[]): Promise<unknown> {
  @Module({ imports })
  class AppModule {}
  try {
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    await app.close();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('ConsulConfigModule option validation at app creation', () => {
  it('reports every problem of its own sections under its own name, and fakes no service', async () => {
    const error = await createWith(
      ConsulConfigModule.forRoot({ consul: { port: 0 }, config: { format: 'toml' as never } }),
    );
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as Error).message).toMatch(/^Invalid ConsulConfigModule options:/);
    expect((error as ConsulOptionsError).problems.map((p) => p.option)).toEqual(['consul.port', 'config.format']);
    expect((error as Error).message).not.toContain('service');
  });

  it('accepts only its own sections: a service is a ConsulModule option', async () => {
    const error = await createWith(
      ConsulConfigModule.forRoot({ config: { app: 'a' }, service: { name: 'a' } } as never),
    );
    expect((error as ConsulOptionsError).problems.map((p) => p.option)).toEqual(['service']);
  });

  it('requires config', async () => {
    const error = await createWith(ConsulConfigModule.forRoot({} as never));
    expect((error as Error).message).toContain('config: is required; pass { config: { app: "my_app" } }');
  });
});

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
    [
      'service.tag',
      { service: { name: 'a', tag: ['x'] } },
      'service.tag: is not an option; did you mean service.tags?',
    ],
    ['consull', { consull: { host: 'x' } }, 'consull: is not an option; did you mean consul?'],
    [
      'check.intervall',
      { service: { name: 'a', check: { intervall: '5s' } } },
      'service.check.intervall: is not an option; did you mean service.check.interval?',
    ],
    [
      'a key close to nothing',
      { discovery: { colour: 'red' } },
      'discovery.colour: is not an option; the options here are discovery.wait,',
    ],
    [
      'discovery.retry.initalDelay',
      { discovery: { retry: { initalDelay: '1s' } } },
      'discovery.retry.initalDelay: is not an option; did you mean discovery.retry.initialDelay?',
    ],
    [
      'config.contexts[0].formt',
      { config: { contexts: [{ key: 'k', formt: 'json' }] } },
      'config.contexts[0].formt: is not an option; did you mean config.contexts[0].format?',
    ],
    [
      'a check type with a typo',
      { service: { name: 'a', check: { type: 'htp' } } },
      'service.check.type: "htp" is not one of "http", "tcp", "grpc", "ttl", "none"; did you mean "http"?',
    ],
    [
      'deregisterCriticalServiceAfter under Consul minimum',
      { service: { name: 'a', check: { deregisterCriticalServiceAfter: '30s' } } },
      'service.check.deregisterCriticalServiceAfter: "30s" is shorter than Consul\'s minimum of 1m',
    ],
    [
      'a microservice without its port',
      { service: { name: 'a' }, microservices: [{ name: 'a_grpc' }] },
      'microservices[0].port: is required: no Nest API tells the port a connected microservice listens on',
    ],
    [
      'microservices[0].tag',
      { service: { name: 'a' }, microservices: [{ name: 'a_grpc', port: 5000, tag: ['x'] }] },
      'microservices[0].tag: is not an option; did you mean microservices[0].tags?',
    ],
    [
      'an http check on a microservice',
      { service: { name: 'a' }, microservices: [{ name: 'a_grpc', port: 5000, check: { type: 'http' } }] },
      'microservices[0].check.type: "http" is the HTTP server\'s check, and the HTTP server is the main service; use "tcp"',
    ],
    [
      'microservices without a main service',
      { microservices: [{ name: 'a_grpc', port: 5000 }] },
      'microservices: needs service',
    ],
    [
      'microservices that are not an array',
      { service: { name: 'a' }, microservices: { name: 'a_grpc', port: 5000 } },
      'microservices: expected an array, got {"name":"a_grpc","port":5000}',
    ],
  ])('rejects %s, naming the option and the fix', async (_case, options, expected) => {
    const error = await createWith(ConsulModule.forRoot(options as ConsulModuleOptions));
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as Error).message).toContain(expected);
  });

  it('reports every problem of every microservice entry in the one error, with its path', async () => {
    const error = await createWith(
      ConsulModule.forRoot({
        service: { name: 'a' },
        microservices: [
          { name: 'a grpc', port: 5000, check: { type: 'grp' as never, interval: 'often' } },
          { name: 'b', port: 5000, check: { path: '/health' } as never },
          { name: 'c' } as never,
        ],
      }),
    );
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as ConsulOptionsError).problems).toEqual([
      expect.objectContaining({ option: 'microservices[0].name' }),
      {
        option: 'microservices[0].check.type',
        problem: '"grp" is not one of "http", "tcp", "grpc", "ttl", "none"',
        fix: 'did you mean "grpc"?',
      },
      expect.objectContaining({ option: 'microservices[0].check.interval', problem: '"often" is not a duration' }),
      expect.objectContaining({ option: 'microservices[1].check.path' }),
      expect.objectContaining({
        option: 'microservices[1].port',
        problem: '5000 is also the port of microservices[0]',
      }),
      expect.objectContaining({ option: 'microservices[2].port', problem: expect.stringContaining('is required') }),
    ]);
  });

  it('resolves a microservice entry like service, with its own defaults (check type chosen at start: tcp)', () => {
    const { microservices } = resolveConsulOptions({
      service: { name: 'a' },
      microservices: [{ name: 'a_grpc', port: 5000, tags: ['grpc'], check: { type: 'grpc' } }],
    });
    expect(microservices).toEqual([
      expect.objectContaining({ name: 'a_grpc', port: 5000, tags: ['grpc'], id: undefined }),
    ]);
    expect(microservices[0].check).toMatchObject({
      type: 'grpc',
      interval: '10s',
      deregisterCriticalServiceAfter: '1m',
    });
    expect(resolveConsulOptions({ service: { name: 'a' } }).microservices).toEqual([]);
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

  it('rejects unknown keys in what a forRootAsync factory returns, as most apps configure it', async () => {
    const error = await createWith(
      ConsulModule.forRootAsync({
        useFactory: async () => ({ service: { name: 'a', tag: ['x'] } }) as ConsulModuleOptions,
      }),
    );
    expect((error as ConsulOptionsError).problems).toEqual([
      { option: 'service.tag', problem: 'is not an option', fix: 'did you mean service.tags?' },
    ]);
  });

  it("gives discovery watches their own retry, not registration's", () => {
    const resolved = resolveConsulOptions({
      registration: { retry: { initialDelay: '5s', maxDelay: '1m' } },
      discovery: { retry: { initialDelay: '100ms', maxDelay: '2s' } },
    });
    expect(resolved.discovery.retry).toEqual({ initialDelayMs: 100, maxDelayMs: 2_000, factor: 2 });
    expect(resolved.registration.retry).toEqual({ initialDelayMs: 5_000, maxDelayMs: 60_000, factor: 2 });
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
    const error = await createWith(
      ConsulModule.forRoot({}),
      ConsulModule.forFeature([
        { service: 'user_api', transport: 'http', options: { connections: 0, tls: 'yes' as never } },
      ]),
    );
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as ConsulOptionsError).problems.map((p) => p.option)).toEqual([
      'ConsulModule.forFeature() client "user_api": options.connections',
      'ConsulModule.forFeature() client "user_api": options.tls',
    ]);
  });

  it.each<[string, unknown[], string[]]>([
    [
      'an unknown client option, with the closest one',
      [{ service: 'orders', transport: 'http', options: { timeOut: '2s' } }],
      [
        'ConsulModule.forFeature() client "orders": options.timeOut: is not an option; did you mean ConsulModule.forFeature() client "orders": options.timeout?',
      ],
    ],
    [
      'a load balancer that does not exist',
      [{ service: 'orders', transport: 'http', loadBalancer: 'fastest' }],
      ['ConsulModule.forFeature() client "orders": loadBalancer: "fastest" is not a load balancer'],
    ],
    [
      'gRPC retries grpc-js cannot make, and a bad query',
      [
        {
          service: 'users',
          transport: Transport.GRPC,
          options: { package: 'u', protoPath: 'u.proto', retry: { maxAttempts: 9 }, query: { tag: 'x' } },
        },
      ],
      [
        'ConsulModule.forFeature() client "users": options.query.tag: is not an option; did you mean ConsulModule.forFeature() client "users": options.query.tags?',
        'ConsulModule.forFeature() client "users": options.retry.maxAttempts: 9 is not a whole number from 1 to 5',
      ],
    ],
    [
      'a gRPC client over Connect in an app without Connect native, and with its own credentials',
      [
        {
          service: 'greeter',
          transport: Transport.GRPC,
          options: { package: 'hello', protoPath: 'hello.proto', connect: true, credentials: {} },
        },
        {
          service: 'billing',
          transport: Transport.GRPC,
          options: { package: 'b', protoPath: 'b.proto', connect: 'yes' },
        },
      ],
      [
        'ConsulModule.forFeature() client "greeter": options.connect: needs the app to run Connect native: the app\'s own leaf certificate is the identity it calls with; add connect: { native: true } (and a service name) to ConsulModule.forRoot(), or leave options.connect out',
        'ConsulModule.forFeature() client "greeter": options.credentials: cannot be given with connect: true',
        'ConsulModule.forFeature() client "billing": options.connect: expected true or false, got "yes"',
      ],
    ],
    [
      'a TLS server name that is not a name, and an unknown TLS key',
      [{ service: 'orders', transport: 'http', options: { scheme: 'https', tls: { servername: '', certs: 'x' } } }],
      [
        'ConsulModule.forFeature() client "orders": options.tls.certs: is not an option; did you mean ConsulModule.forFeature() client "orders": options.tls.cert?',
        'ConsulModule.forFeature() client "orders": options.tls.servername: expected a non-empty string, got ""',
      ],
    ],
    [
      'a Connect client in an app that does not run Connect native, with its own TLS and plain HTTP',
      [
        {
          service: 'orders',
          transport: 'http',
          options: { connect: true, tls: { ca: 'x' }, scheme: 'http', query: { connect: false } },
        },
        { service: 'users', transport: 'http', options: { connect: 'yes' } },
      ],
      [
        'ConsulModule.forFeature() client "orders": options.connect: needs the app to run Connect native: the app\'s own leaf certificate is the identity it calls with; add connect: { native: true } (and a service name) to ConsulModule.forRoot(), or leave options.connect out',
        'ConsulModule.forFeature() client "orders": options.tls: cannot be given with connect: true: Connect brings its own TLS',
        'ConsulModule.forFeature() client "orders": options.scheme: "http" cannot be given with connect: true',
        'ConsulModule.forFeature() client "orders": options.query.connect: false cannot be given with connect: true',
        'ConsulModule.forFeature() client "users": options.connect: expected true or false, got "yes"',
      ],
    ],
    [
      'every client of the call at once',
      [
        { service: 'a b', transport: 'http' },
        { service: 'orders', transport: 'http', options: { timeout: 'soon' } },
        { service: 'orders', transport: 'http' },
      ],
      [
        'ConsulModule.forFeature() client "a b": service: "a b" is not a valid service name',
        'ConsulModule.forFeature() client "orders": options.timeout: "soon" is not a duration',
        'ConsulModule.forFeature() client "orders": service: is listed twice',
      ],
    ],
  ])('rejects forFeature clients with %s, at app creation', async (_case, clients, expected) => {
    const error = await createWith(ConsulModule.forRoot({}), ConsulModule.forFeature(clients as never));
    expect(error).toBeInstanceOf(ConsulOptionsError);
    expect((error as Error).message).toMatch(/^Invalid ConsulModule.forFeature\(\) options:/);
    const lines = (error as ConsulOptionsError).problems.map(
      (p) => `${p.option}: ${p.problem}${p.fix ? `; ${p.fix}` : ''}`,
    );
    expect(lines).toHaveLength(expected.length);
    expected.forEach((line, i) => expect(lines[i]).toContain(line));
  });

  it('rejects a bad per-client loadBalancer (gRPC included) and a factory that makes no balancer, naming the option', async () => {
    const failure = (clients: Parameters<typeof ConsulModule.forFeature>[0]) =>
      createWith(ConsulModule.forRoot({}), ConsulModule.forFeature(clients));
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
