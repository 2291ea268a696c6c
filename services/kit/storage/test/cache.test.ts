import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@ordermesh/runtime';
import { Cache, type Codec } from '@ordermesh/storage';
import { eventually, TcpProxy } from '@ordermesh/testing';
import { Redis } from 'ioredis';

const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `ordermesh-test:${randomUUID().slice(0, 8)}:`;
const TTL_SECONDS = 120;
const log = createLogger('cache-test', 'silent');

const text: Codec<string> = {
  encode: (value) => new TextEncoder().encode(value),
  decode: (bytes) => new TextDecoder().decode(bytes),
};

let admin: Redis;
const caches: Cache[] = [];
const proxies: TcpProxy[] = [];

const key = (name: string) => `${prefix}${name}`;

function connectCache(url: string): Cache {
  const cache = Cache.connect(url, log, TTL_SECONDS);
  caches.push(cache);
  return cache;
}

/**
 * A cache that has connected: without an offline queue, commands sent before
 * the connection is up fail (and count as misses) by design.
 */
async function readyCache(url = REDIS_URL): Promise<Cache> {
  const cache = connectCache(url);
  const probe = key(`probe:${randomUUID()}`);
  await eventually('the cache to reach Redis', async () => {
    await cache.set(probe, 'x', text);
    return (await admin.exists(probe)) === 1;
  });
  await admin.del(probe);
  return cache;
}

/** A loader that counts its calls. */
function loader(value: string | undefined) {
  const calls: number[] = [];
  return {
    calls,
    load: async () => {
      calls.push(Date.now());
      return value;
    },
  };
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** A cache behind a proxy, connected and ready. */
async function cacheBehindProxy(): Promise<{ cache: Cache; proxy: TcpProxy }> {
  const proxy = new TcpProxy(6379);
  await proxy.start();
  proxies.push(proxy);
  return { cache: await readyCache(`redis://127.0.0.1:${proxy.port}`), proxy };
}

beforeAll(async () => {
  admin = new Redis(REDIS_URL);
});

// Closed after each test: a client left retrying an unreachable Redis would keep Jest waiting for its timer.
afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.close();
  for (const proxy of proxies.splice(0)) await proxy.stop();
});

afterAll(async () => {
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

describe('Cache against Redis', () => {
  it('loads once, then serves the cached value', async () => {
    const cache = await readyCache();
    const source = loader('first value');

    expect(await cache.getOrLoad(key('a'), text, source.load)).toBe('first value');
    expect(await cache.getOrLoad(key('a'), text, source.load)).toBe('first value');
    expect(await cache.getOrLoad(key('a'), text, loader('another value').load)).toBe('first value');
    expect(source.calls).toHaveLength(1);
    expect((await admin.getBuffer(key('a')))?.toString()).toBe('first value');
  });

  it('does not cache a value the loader did not find', async () => {
    const cache = await readyCache();
    const missing = loader(undefined);
    expect(await cache.getOrLoad(key('missing'), text, missing.load)).toBeUndefined();
    expect(await cache.getOrLoad(key('missing'), text, missing.load)).toBeUndefined();
    expect(missing.calls).toHaveLength(2);
    expect(await admin.exists(key('missing'))).toBe(0);
  });

  it('returns but does not cache a loaded value that keep refuses', async () => {
    const cache = await readyCache();
    const pending = loader('pending');
    const keepSettled = (value: string) => value !== 'pending';
    expect(await cache.getOrLoad(key('pending'), text, pending.load, keepSettled)).toBe('pending');
    expect(await admin.exists(key('pending'))).toBe(0);
    const settled = loader('settled');
    expect(await cache.getOrLoad(key('pending'), text, settled.load, keepSettled)).toBe('settled');
    expect(await cache.getOrLoad(key('pending'), text, settled.load, keepSettled)).toBe('settled');
    expect(settled.calls).toHaveLength(1);
  });

  it('stores values with the configured TTL', async () => {
    const cache = await readyCache();
    await cache.getOrLoad(key('ttl'), text, loader('v').load);
    const ttl = await admin.ttl(key('ttl'));
    expect(ttl).toBeGreaterThan(TTL_SECONDS - 5);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
  });

  it('invalidate deletes the keys, so the next read loads again', async () => {
    const cache = await readyCache();
    await cache.set(key('b'), 'old', text);
    await cache.set(key('c'), 'old', text);
    await cache.invalidate(key('b'), key('c'));
    expect(await admin.exists(key('b'), key('c'))).toBe(0);
    const source = loader('new');
    expect(await cache.getOrLoad(key('b'), text, source.load)).toBe('new');
    expect(source.calls).toHaveLength(1);
  });

  it('behaves as a miss, quickly and without throwing, when Redis cannot be reached at all', async () => {
    // A port nobody listens on.
    const cache = connectCache('redis://127.0.0.1:1');
    const source = loader('from the database');
    for (let i = 0; i < 3; i++) {
      const { value, ms } = await timed(() => cache.getOrLoad(key('down'), text, source.load));
      expect(value).toBe('from the database');
      expect(ms).toBeLessThan(1_000);
    }
    expect(source.calls).toHaveLength(3);
    expect((await timed(() => cache.get(key('down'), text))).value).toBeUndefined();
    await expect(cache.set(key('down'), 'x', text)).resolves.toBeUndefined();
    await expect(cache.invalidate(key('down'))).resolves.toBeUndefined();
  });

  it('behaves as a miss when Redis goes away mid-life, and caches again once it is back', async () => {
    const { cache, proxy } = await cacheBehindProxy();
    await cache.set(key('outage'), 'cached before', text);
    expect(await cache.get(key('outage'), text)).toBe('cached before');

    await proxy.cut();
    const source = loader('from the database');
    const calls: (() => Promise<unknown>)[] = [
      () => cache.getOrLoad(key('outage'), text, source.load),
      () => cache.get(key('outage'), text),
      () => cache.set(key('outage-2'), 'y', text),
      () => cache.getOrLoad(key('outage'), text, source.load),
    ];
    for (const work of calls) {
      const { ms } = await timed(work);
      expect(ms).toBeLessThan(1_000);
    }
    // The cached value is not served while Redis is away: every read went to the database.
    expect(source.calls).toHaveLength(2);
    expect(await admin.exists(key('outage-2'))).toBe(0);

    await proxy.restore();
    const after = loader('fresh');
    await eventually('caching to work again', async () => {
      await cache.set(key('outage-3'), 'z', text);
      return (await admin.exists(key('outage-3'))) === 1;
    });
    expect(await cache.getOrLoad(key('outage'), text, after.load)).toBe('cached before');
    expect(after.calls).toHaveLength(0);
  }, 20_000);

  it('applies invalidations missed during an outage as soon as Redis answers again', async () => {
    const { cache, proxy } = await cacheBehindProxy();
    await cache.set(key('stale'), 'old value', text);

    await proxy.cut();
    // The database changed while Redis was away; the invalidation cannot reach Redis.
    const { ms } = await timed(() => cache.invalidate(key('stale')));
    expect(ms).toBeLessThan(1_000);
    expect((await admin.getBuffer(key('stale')))?.toString()).toBe('old value');

    await proxy.restore();
    // Any command after the outage first deletes the keys it could not.
    await eventually('the missed invalidation applied', async () => {
      await cache.get(key('unrelated'), text);
      return (await admin.exists(key('stale'))) === 0;
    });
    const source = loader('new value');
    expect(await cache.getOrLoad(key('stale'), text, source.load)).toBe('new value');
    expect(source.calls).toHaveLength(1);
  }, 20_000);
});
