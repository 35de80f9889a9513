import 'reflect-metadata';
import type { DynamicModule, Provider } from '@nestjs/common';
import { Transport } from '@nestjs/microservices';
import { ConsulConfigModule, ConsulModule } from '../../lib/index.js';

type ModuleEntry = DynamicModule | Promise<DynamicModule> | { forwardRef(): unknown } | (new () => unknown);

/** What `@Module()` declared on a class (Nest keeps it under these metadata keys). */
const declared = (type: unknown, key: 'providers' | 'imports'): unknown[] =>
  (Reflect.getMetadata(key, type as object) as unknown[] | undefined) ?? [];

/** Every provider a module definition brings, `@Module()` metadata and imports included; Nest's own modules aside. */
async function providersOf(entry: ModuleEntry, seen = new Set<unknown>()): Promise<Provider[]> {
  const module = (await entry) as DynamicModule | (new () => unknown);
  if (seen.has(module)) return [];
  seen.add(module);
  const type = typeof module === 'function' ? module : module.module;
  if (type.name === 'DiscoveryModule') return []; // Nest's own
  const dynamic: Partial<DynamicModule> = typeof module === 'function' ? {} : module;
  const imports = [...declared(type, 'imports'), ...(dynamic.imports ?? [])];
  const nested = await Promise.all(imports.map((i) => providersOf(i as ModuleEntry, seen)));
  return [...(declared(type, 'providers') as Provider[]), ...(dynamic.providers ?? []), ...nested.flat()];
}

/** A provider Nest reflects at start-up: a bare class, or `useClass`. */
function reflected(provider: Provider): boolean {
  return typeof provider === 'function' || 'useClass' in provider;
}

describe('our providers are constructed from listed dependencies, not reflected by Nest', () => {
  it('ConsulModule.forRoot() and forFeature() bring no class provider', async () => {
    const providers = [
      ...(await providersOf(
        ConsulModule.forRoot({ service: { name: 'api' }, config: { profiles: ['production'] } }) as DynamicModule,
      )),
      ...(await providersOf(
        ConsulModule.forFeature([
          { service: 'users', transport: Transport.GRPC, options: { package: 'user', protoPath: 'user.proto' } },
          { service: 'orders', transport: 'http' },
        ]),
      )),
    ];
    // The test must see the module's services to mean anything.
    const names = providers.map((p) => {
      const token = typeof p === 'function' ? p : p.provide;
      return typeof token === 'function' ? token.name : String(token);
    });
    expect(names).toEqual(
      expect.arrayContaining([
        'ConsulRegistrar',
        'ConsulDiscoveryService',
        'ConsulHealthService',
        'ConsulConfigExplorer',
      ]),
    );
    expect(providers.filter(reflected).map((p) => (p as { name?: string }).name ?? p)).toEqual([]);
  });

  it('ConsulConfigModule.forRoot() brings no class provider', async () => {
    const providers = await providersOf(ConsulConfigModule.forRoot({ config: { app: 'api' } }) as DynamicModule);
    expect(providers.length).toBeGreaterThan(0);
    expect(providers.filter(reflected)).toEqual([]);
  });
});
