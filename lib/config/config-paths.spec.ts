import { diffLeaves, getPath, mergeLayers, setPath } from './config-paths.js';

describe('config paths', () => {
  it('reads dotted and slashed paths', () => {
    const config = { db: { host: 'h', ports: [1, 2] } };
    expect(getPath(config, 'db.host')).toBe('h');
    expect(getPath(config, 'db/ports')).toEqual([1, 2]);
    expect(getPath(config, 'db.host.more')).toBeUndefined();
    expect(getPath(config, 'nope.x')).toBeUndefined();
  });

  it('sets nested values, replacing scalars in the way', () => {
    const target = { a: 'scalar' } as Record<string, unknown>;
    setPath(target, ['a', 'b'], 1);
    expect(target).toEqual({ a: { b: 1 } });
  });

  it('merges layers with the first (most specific) winning, deeply', () => {
    const merged = mergeLayers([
      { db: { host: 'app' }, list: [1] },
      { db: { host: 'shared', port: 5432 }, list: [1, 2, 3], x: 1 },
    ]);
    expect(merged).toEqual({ db: { host: 'app', port: 5432 }, list: [1], x: 1 });
  });

  it('does not alias the layers it merges', () => {
    const layer = { db: { host: 'h' } };
    const merged = mergeLayers([layer]);
    (merged.db as Record<string, unknown>).host = 'changed';
    expect(layer.db.host).toBe('h');
  });

  it('lists changed, added and removed leaves', () => {
    const changes = diffLeaves({ db: { host: 'a', port: 1 }, gone: true }, { db: { host: 'b', port: 1 }, added: [1] });
    expect(changes).toEqual([
      { path: 'db.host', previous: 'a', current: 'b' },
      { path: 'gone', previous: true, current: undefined },
      { path: 'added', previous: undefined, current: [1] },
    ]);
    expect(diffLeaves({ a: { b: 1 } }, { a: { b: 1 } })).toEqual([]);
  });

  it('gives the new value at every level that changed when a value changes kind', () => {
    // A handler for "a" hears the object it became (it heard `current: undefined` before), and one for "a.b" its leaf.
    expect(diffLeaves({ a: 1 }, { a: { b: 2 } })).toEqual([
      { path: 'a', previous: 1, current: { b: 2 } },
      { path: 'a.b', previous: undefined, current: 2 },
    ]);
    expect(diffLeaves({ a: { b: 2 } }, { a: 'x' })).toEqual([
      { path: 'a', previous: { b: 2 }, current: 'x' },
      { path: 'a.b', previous: 2, current: undefined },
    ]);
  });
});
