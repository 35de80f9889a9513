import { Logger, SetMetadata } from '@nestjs/common';
import { type DiscoveryService, MetadataScanner } from '@nestjs/core';
import { findDecoratedMethods, markDecorated } from './decorated-methods.js';

const KEY = 'TEST:HOOK';
const Hook =
  (name: string): MethodDecorator =>
  (target, key, descriptor) => {
    markDecorated(KEY, target);
    return SetMetadata(KEY, name)(target, key, descriptor);
  };

class Plain {
  run(): void {}
}
class Hooked {
  @Hook('a') first(): void {}
  second(): void {}
}
class Inheriting extends Hooked {
  third(): void {}
}

function discoveryOf(...instances: object[]): DiscoveryService {
  const wrappers = instances.map((instance) => ({
    instance,
    name: instance.constructor.name,
    isDependencyTreeStatic: () => true,
  }));
  return { getProviders: () => wrappers, getControllers: () => [] } as unknown as DiscoveryService;
}

describe('findDecoratedMethods', () => {
  const find = (discovery: DiscoveryService, family = KEY) => {
    const readOn: string[] = [];
    const found = findDecoratedMethods(
      family,
      discovery,
      new MetadataScanner(),
      (method) => {
        readOn.push(method.name);
        return Reflect.getMetadata(KEY, method) as string | undefined;
      },
      new Logger('test'),
      () => 'ignored',
    );
    return { found: found.map((f) => `${f.instance.constructor.name}.${f.method}=${f.metadata}`), readOn };
  };

  it('reads only instances of classes that declare or inherit a decorated method', () => {
    const { found, readOn } = find(discoveryOf(new Plain(), new Hooked(), new Inheriting()));
    expect(found).toEqual(['Hooked.first=a', 'Inheriting.first=a']);
    expect(readOn).not.toContain('run'); // Plain's methods were never read
    expect(readOn).toEqual(expect.arrayContaining(['first', 'second', 'third']));
  });

  it('reads nothing for a family no decorator was applied from', () => {
    const { found, readOn } = find(discoveryOf(new Hooked()), 'TEST:UNUSED');
    expect(found).toEqual([]);
    expect(readOn).toEqual([]);
  });
});
