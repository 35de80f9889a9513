import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import {
  type ConfigChange,
  ConsulConfigLoadError,
  ConsulConfigModule,
  ConsulConfigService,
  consulConfigLoader,
  ConsulModule,
  type ConsulConfigOptions,
  OnConsulConfigChange,
} from '../../lib/index.js';
import { useConsulAgent } from '../helpers/agent-suite.js';
import { CapturingLogger } from '../helpers/capturing-logger.js';
import { ConsulAgent } from '../helpers/consul-agent.js';
import { consulOptions } from '../helpers/consul-app.js';
import { eventually } from '../helpers/eventually.js';

/** Reads configuration in its constructor: proof that it is loaded before providers are created. */
@Injectable()
class Greeter {
  readonly greetingAtBoot: string;
  readonly seen: ConfigChange[] = [];
  constructor(readonly config: ConsulConfigService) {
    this.greetingAtBoot = config.get<string>('greeting', 'unset');
  }

  @OnConsulConfigChange('db')
  onDb(change: ConfigChange) {
    this.seen.push(change);
  }
}

async function bootConfig(agent: ConsulAgent, config: ConsulConfigOptions, consul: { token?: string } = {}) {
  @Module({
    imports: [
      ConsulConfigModule.forRoot({
        consul: { host: '127.0.0.1', port: agent.httpPort, timeout: '2s', ...consul },
        config,
        discovery: { wait: '10s' },
      }),
    ],
    providers: [Greeter],
  })
  class AppModule {}
  const logger = new CapturingLogger();
  const app = await NestFactory.createApplicationContext(AppModule, { logger, abortOnError: false });
  return { app, logger, greeter: app.get(Greeter), config: app.get(ConsulConfigService) };
}

describe('KV configuration (real Consul agent)', () => {
  const suite = useConsulAgent();
  let agent: ConsulAgent;
  /** Each test gets its own prefix, so tests never see each other's keys. */
  let prefix: string;
  const put = async (key: string, value: string) => {
    const res = await agent.api(`/v1/kv/${prefix}/${key}`, { method: 'PUT', body: value });
    if (!res.ok) throw new Error(`PUT ${key}: ${res.status}`);
  };
  const del = (key: string) => agent.api(`/v1/kv/${prefix}/${key}?recurse=true`, { method: 'DELETE' });

  beforeAll(() => (agent = suite.agent));
  beforeEach(() => (prefix = `cfg-${randomUUID().slice(0, 8)}`));

  it('loads tree keys, turning JSON values into JSON, before providers are created', async () => {
    await put('user_api/greeting', 'hello');
    await put('user_api/db/host', 'db.internal');
    await put('user_api/db/port', '5432');
    await put('user_api/features', '{"beta":true}');
    await put('user_api/folder/', '');
    const { app, greeter, config } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [] });
    suite.apps.push({ app });
    expect(greeter.greetingAtBoot).toBe('hello');
    expect(config.snapshot()).toEqual({
      greeting: 'hello',
      db: { host: 'db.internal', port: 5432 },
      features: { beta: true },
    });
    expect(config.getOrThrow('db.port')).toBe(5432);
    expect(() => config.getOrThrow('db.user')).toThrow(
      `Configuration "db.user" is not set in any Consul KV context (${prefix}/user_api/, ${prefix}/application/)`,
    );
  });

  it.each([
    ['json', '{"db":{"host":"j"},"list":[1,2]}', { db: { host: 'j' }, list: [1, 2] }],
    ['yaml', 'db:\n  host: y\nlist:\n  - 1\n  - 2\n', { db: { host: 'y' }, list: [1, 2] }],
    ['properties', 'db.host=p\nlist=1,2\n', { db: { host: 'p' }, list: '1,2' }],
  ] as const)('loads a %s document from the data key', async (format, document, expected) => {
    await put('user_api/data', document);
    const { app, config } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [], format });
    suite.apps.push({ app });
    expect(config.snapshot()).toEqual(expected);
  });

  it('layers the four contexts and profiles, most specific first', async () => {
    await put('application/level', 'application');
    await put('application/shared', 'from application');
    await put('application,prod/level', 'application,prod');
    await put('application,prod/db/pool', '10');
    await put('user_api/level', 'user_api');
    await put('user_api/db/host', 'app-db');
    await put('user_api,prod/level', 'user_api,prod');
    await put('user_api,eu/level', 'user_api,eu');
    const { app, config } = await bootConfig(agent, { prefix, app: 'user_api', profiles: ['prod'] });
    suite.apps.push({ app });
    expect(config.snapshot()).toEqual({
      level: 'user_api,prod',
      shared: 'from application',
      db: { host: 'app-db', pool: 10 },
    });

    const two = await bootConfig(agent, { prefix, app: 'user_api', profiles: ['prod', 'eu'] });
    suite.apps.push({ app: two.app });
    expect(two.config.get('level')).toBe('user_api,eu'); // the last profile is the most specific
  });

  it('sees a change within 1 s through changes$ and @OnConsulConfigChange, and nothing at startup', async () => {
    await put('user_api/db/host', 'a');
    await put('user_api/greeting', 'hi');
    const { app, greeter, config } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [] });
    suite.apps.push({ app });
    const all: ConfigChange[] = [];
    config.changes$.subscribe((c) => all.push(c));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(all).toEqual([]); // the boot read is not a change
    expect(greeter.seen).toEqual([]);

    const changedAt = Date.now();
    await put('user_api/db/host', 'b');
    await eventually(() => greeter.seen.length === 1, { timeoutMs: 1_000, what: 'the change' });
    expect(Date.now() - changedAt).toBeLessThan(1_000);
    expect(greeter.seen).toEqual([{ path: 'db.host', previous: 'a', current: 'b' }]);
    expect(config.get('db.host')).toBe('b');

    await put('user_api/greeting', 'hello'); // outside "db": the decorator is not called
    await eventually(() => all.length === 2, { what: 'the greeting change' });
    expect(greeter.seen).toHaveLength(1);

    await del('user_api/db/host'); // deletes are changes too
    await eventually(() => greeter.seen.length === 2, { what: 'the delete' });
    expect(greeter.seen[1]).toEqual({ path: 'db.host', previous: 'b', current: undefined });
  });

  it('does not reload when a lock is taken on a key under the prefix (only its Session and ModifyIndex change)', async () => {
    await put('user_api/greeting', 'hi');
    const { app, logger } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [] });
    suite.apps.push({ app });
    const session = (
      (await (await agent.api('/v1/session/create', { method: 'PUT', body: '{}' })).json()) as {
        ID: string;
      }
    ).ID;
    try {
      const acquired = await agent.api(`/v1/kv/${prefix}/user_api/greeting?acquire=${session}`, {
        method: 'PUT',
        body: 'hi',
      });
      expect((await acquired.text()).trim()).toBe('true');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(logger.text).not.toMatch(/reloaded/);
      // The watch is alive: a real change reloads.
      await put('user_api/greeting', 'hello');
      await eventually(() => /reloaded/.test(logger.text), { what: 'the reload' });
    } finally {
      await agent.api(`/v1/session/destroy/${session}`, { method: 'PUT' });
    }
  });

  it('hands a @OnConsulConfigChange handler the new value when its key changes kind (a string becomes an object)', async () => {
    await put('user_api/db', 'a string');
    const { app, greeter } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [] });
    suite.apps.push({ app });
    // In one transaction, so the watch sees the swap, not a delete and then an add.
    const swapped = await agent.api('/v1/txn', {
      method: 'PUT',
      body: JSON.stringify([
        { KV: { Verb: 'delete', Key: `${prefix}/user_api/db` } },
        { KV: { Verb: 'set', Key: `${prefix}/user_api/db/host`, Value: Buffer.from('h').toString('base64') } },
      ]),
    });
    expect(swapped.status).toBe(200);
    await eventually(() => greeter.seen.some((change) => change.current !== undefined), { what: 'db as an object' });
    expect(greeter.seen.at(-2)).toEqual({ path: 'db', previous: 'a string', current: { host: 'h' } });
    expect(greeter.seen.at(-1)).toEqual({ path: 'db.host', previous: undefined, current: 'h' });
  });

  it.each([
    ['json', '{"db":{"host":"good"}}', '{"db": {"host": '],
    ['yaml', 'db:\n  host: good\n', 'db: [unclosed\n'],
  ] as const)(
    'keeps the last good %s configuration when a malformed one arrives, and logs one error naming the key',
    async (format, good, bad) => {
      await put('user_api/data', good);
      const { app, config, logger } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [], format });
      suite.apps.push({ app });
      const changes: ConfigChange[] = [];
      config.changes$.subscribe((c) => changes.push(c));

      await put('user_api/data', bad);
      const error = await eventually(() => logger.find('ERROR', 'ConsulConfig')[0], { what: 'an error line' });
      expect(error).toContain(`Consul KV key "${prefix}/user_api/data" is not valid ${format.toUpperCase()}`);
      expect(error).toContain('keeping the last good configuration');
      expect(config.get('db.host')).toBe('good');
      expect(changes).toEqual([]);

      await put('user_api/data', good.replace('good', 'fixed'));
      await eventually(() => config.get('db.host') === 'fixed', { what: 'the fixed value' });
      expect(logger.find('ERROR', 'ConsulConfig')).toHaveLength(1);
    },
  );

  it('rejects a reload that fails validate(), keeping the last good configuration', async () => {
    await put('user_api/port', '8080');
    const validate = (config: Record<string, unknown>) => {
      if (typeof config.port !== 'number') throw new Error('port must be a number');
      return config;
    };
    const { app, config, logger } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [], validate });
    suite.apps.push({ app });
    await put('user_api/port', 'eighty');
    await eventually(() => logger.find('ERROR', 'ConsulConfig')[0], { what: 'a validation error' });
    expect(logger.find('ERROR', 'ConsulConfig')[0]).toContain('failed validation: port must be a number');
    expect(config.get('port')).toBe(8080);
  });

  it('writes with check-and-set on the ModifyIndex', async () => {
    const { app, config } = await bootConfig(agent, { prefix, app: 'user_api', profiles: [] });
    suite.apps.push({ app });
    expect(await config.set(`${prefix}/user_api/flag`, 'on', { cas: 0 })).toBe(true); // created
    expect(await config.set(`${prefix}/user_api/flag`, 'again', { cas: 0 })).toBe(false); // exists: refused
    const [entry] = await agent.json<Array<{ ModifyIndex: number }>>(`/v1/kv/${prefix}/user_api/flag`);
    expect(await config.set(`${prefix}/user_api/flag`, { n: 1 }, { cas: entry.ModifyIndex })).toBe(true);
    await eventually(() => JSON.stringify(config.get('flag')) === '{"n":1}', {
      what: 'the written value to come back',
    });
  });

  it('fails bootstrap naming the context when an explicit one is missing, and accepts it when optional', async () => {
    const error = await bootConfig(agent, {
      prefix,
      app: 'user_api',
      profiles: [],
      contexts: [{ key: `${prefix}/secrets` }],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsulConfigLoadError);
    expect((error as Error).message).toContain(
      `Consul KV has nothing at "${prefix}/secrets/", a context listed in config.contexts`,
    );

    const ok = await bootConfig(agent, {
      prefix,
      app: 'user_api',
      profiles: [],
      contexts: [{ key: `${prefix}/secrets`, optional: true }],
    });
    suite.apps.push({ app: ok.app });
    expect(ok.config.snapshot()).toEqual({});
  });

  it('fails bootstrap with failFast when Consul is unreachable, naming the key and the agent', async () => {
    const nobody = await ConsulAgent.reserve();
    const error = await bootConfig(nobody, { prefix, app: 'user_api' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsulConfigLoadError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `Could not load configuration from "${prefix}/user_api[^"]*/": Consul at ${nobody.address} could not read`,
      ),
    );
    expect((error as Error).message).toContain(
      'Check consul.host and consul.port (is the agent running?), or set config.failFast: false to boot without it',
    );
  });

  it('fails bootstrap on a value that does not parse, naming the key and what to do', async () => {
    await put('user_api/data', '{"db": ');
    const error = await bootConfig(agent, { prefix, app: 'user_api', profiles: [], format: 'json' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConsulConfigLoadError);
    expect((error as Error).message).toContain(`Consul KV key "${prefix}/user_api/data" is not valid JSON`);
    expect((error as Error).message).toContain(
      'Fix the value in Consul KV, or set config.failFast: false to boot without it',
    );
  });

  it('feeds @nestjs/config through consulConfigLoader()', async () => {
    await put('user_api/greeting', 'from consul');
    @Module({
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          load: [
            consulConfigLoader({
              consul: { host: '127.0.0.1', port: agent.httpPort },
              config: { prefix, app: 'user_api', profiles: [] },
            }),
          ],
        }),
      ],
    })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    suite.apps.push({ app });
    expect(app.get(ConfigService).get('greeting')).toBe('from consul');
  });

  it('works inside ConsulModule.forRoot({ config }) with the service name as the app', async () => {
    await put('inline_app/greeting', 'inline');
    @Module({
      imports: [
        ConsulModule.forRoot({
          ...consulOptions(agent, { service: { name: 'inline_app' }, registration: { enabled: false } }),
          config: { prefix, profiles: [] },
        }),
      ],
      providers: [Greeter],
    })
    class AppModule {}
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    suite.apps.push({ app });
    expect(app.get(Greeter).greetingAtBoot).toBe('inline');
  });
});

describe('KV configuration with ACLs (real default-deny agent)', () => {
  const master = randomUUID();
  const suite = useConsulAgent({ aclMasterToken: master });

  it('needs key:read on the prefix, and honours the token', async () => {
    const agent = suite.agent;
    await agent.api('/v1/kv/config/secure_app/greeting', { method: 'PUT', body: 'secret hello' });
    const policy = (await (
      await agent.api('/v1/acl/policy', {
        method: 'PUT',
        body: JSON.stringify({ Name: 'cfg', Rules: 'key_prefix "config/" { policy = "read" }' }),
      })
    ).json()) as { ID: string };
    const token = (await (
      await agent.api('/v1/acl/token', { method: 'PUT', body: JSON.stringify({ Policies: [{ ID: policy.ID }] }) })
    ).json()) as { SecretID: string };

    const withToken = await bootConfig(agent, { app: 'secure_app', profiles: [] }, { token: token.SecretID });
    suite.apps.push({ app: withToken.app });
    expect(withToken.config.get('greeting')).toBe('secret hello');

    // Without a token Consul hides the keys (an empty answer, not an error): the value is simply absent.
    const without = await bootConfig(agent, { app: 'secure_app', profiles: [] });
    suite.apps.push({ app: without.app });
    expect(without.config.get('greeting')).toBeUndefined();
    expect(withToken.logger.text + without.logger.text).not.toContain(token.SecretID);
  });
});
