import type { KvEntry, KvPair } from './consul-api.types.js';
import { blockingTimeout, type ConsulConnection, urlSegment, waitParam } from './consul-connection.js';
import { ConsulRequestError } from './consul-request.error.js';
import { bodyText, consulIndex, preview } from './consul-transport.js';

/** `/v1/kv`: configuration trees, single keys, writes, and the acquire/release of locks. */
export class KvEndpoints {
  constructor(private readonly connection: ConsulConnection) {}

  /**
   * Every key under `prefix` (a blocking read when `index` > 0). A prefix with no key is an
   * empty list, not an error.
   */
  async kvTree(
    prefix: string,
    { index, waitMs, signal, stale }: { index: number; waitMs: number; signal?: AbortSignal; stale?: boolean },
  ): Promise<{ entries: KvEntry[]; index: number }> {
    const action = `read the KV prefix "${prefix}"`;
    // Direct: the package's kv.get decodes the values in place (so a value that is not base64
    // passes unseen) and throws outside any promise on a list holding a null.
    const res = await this.connection.direct({
      action,
      method: 'GET',
      path: `/kv/${encodeKvPath(prefix)}`,
      query: {
        recurse: 'true',
        ...(index > 0 ? { index: String(index), wait: waitParam(waitMs) } : {}),
        ...(stale ? { stale: '' } : {}),
      },
      accept: [404],
      timeoutMs: index > 0 ? blockingTimeout(waitMs, this.connection.options.timeoutMs) : undefined,
      signal,
    });
    const entries = res.statusCode === 404 ? [] : this.connection.expectList<Record<string, unknown>>(res, action);
    // One odd entry makes the whole answer suspect: configuration is replaced only by a sound one.
    const odd = entries.find(
      (entry) =>
        typeof entry?.Key !== 'string' ||
        (entry.Value !== null && (typeof entry.Value !== 'string' || !BASE64.test(entry.Value))),
    );
    if (odd !== undefined) {
      throw new ConsulRequestError(
        action,
        this.connection.address,
        res.statusCode,
        `unexpected KV entry ${preview(odd)}`,
      );
    }
    return {
      entries: entries.map((entry) => ({
        Key: entry.Key as string,
        Value: entry.Value === null ? null : Buffer.from(entry.Value as string, 'base64').toString('utf8'),
        ModifyIndex: Number(entry.ModifyIndex) || 0,
        ...(typeof entry.Session === 'string' && entry.Session ? { Session: entry.Session } : {}),
      })),
      index: consulIndex(res),
    };
  }

  /** Writes `value` at `key`; with `cas`, only if the key's ModifyIndex is still `cas` (0: only if absent). */
  async kvPut(key: string, value: string, cas?: number): Promise<boolean> {
    const res = await this.connection.call({ action: `write the KV key "${key}"` }, (o) =>
      this.connection.consul.kv.set({ ...o, key, value, ...(cas === undefined ? {} : { cas }) }),
    );
    return res.body === true || bodyText(res.body) === 'true';
  }

  async kvDelete(key: string): Promise<void> {
    await this.connection.call({ action: `delete the KV key "${key}"` }, (o) =>
      this.connection.consul.kv.del({ ...o, key }),
    );
  }

  /**
   * One key with its lock state, or `undefined` when it does not exist. With `index` > 0 a
   * blocking read: Consul answers when the key changes or `waitMs` passes.
   */
  async kvGet(
    key: string,
    { index = 0, waitMs = 0, signal }: { index?: number; waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ pair: KvPair | undefined; index: number }> {
    const action = `read the KV key "${key}"`;
    const res = await this.connection.call(
      {
        action,
        accept: [404],
        timeoutMs: index > 0 ? blockingTimeout(waitMs, this.connection.options.timeoutMs) : undefined,
        signal,
      },
      (o) =>
        this.connection.consul.kv.get({
          ...o,
          key,
          ...(index > 0 ? { index: String(index), wait: waitParam(waitMs) } : {}),
        }),
    );
    if (res.statusCode === 404) return { pair: undefined, index: consulIndex(res) };
    // The package decoded the Value of the list's one entry in place.
    const entry = (this.connection.expectList<Record<string, unknown>>(res, action)[0] ?? {}) as Record<
      string,
      unknown
    >;
    if (typeof entry.Key !== 'string' || (entry.Value != null && typeof entry.Value !== 'string')) {
      throw new ConsulRequestError(
        action,
        this.connection.address,
        res.statusCode,
        `unexpected KV entry ${preview(entry)}`,
      );
    }
    return {
      pair: {
        Key: entry.Key,
        Value: (entry.Value as string | null | undefined) ?? null,
        ModifyIndex: Number(entry.ModifyIndex) || 0,
        LockIndex: Number(entry.LockIndex) || 0,
        ...(typeof entry.Session === 'string' && entry.Session ? { Session: entry.Session } : {}),
      },
      index: consulIndex(res),
    };
  }

  /**
   * `PUT /kv/:key?acquire=<session>`: true when `session` now holds `key` (or already did), false
   * when another session holds it or the key is in its lock-delay. Rejects with
   * {@link ConsulRequestError} 500 "invalid session" when the session is gone.
   */
  async kvAcquire(key: string, value: string, session: string): Promise<boolean> {
    const res = await this.connection.call({ action: `acquire the KV key "${key}"` }, (o) =>
      this.connection.consul.kv.set({ ...o, key, value, acquire: session }),
    );
    return res.body === true || bodyText(res.body) === 'true';
  }

  /** `PUT /kv/:key?release=<session>`: true when the key was held by `session` and is now free. */
  async kvRelease(key: string, value: string, session: string): Promise<boolean> {
    const res = await this.connection.call({ action: `release the KV key "${key}"` }, (o) =>
      this.connection.consul.kv.set({ ...o, key, value, release: session }),
    );
    return res.body === true || bodyText(res.body) === 'true';
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** KV keys keep their slashes in the URL; each segment is escaped on its own. */
function encodeKvPath(key: string): string {
  return key
    .split('/')
    .map((segment) => urlSegment(segment, `KV key "${key}"`))
    .join('/');
}
