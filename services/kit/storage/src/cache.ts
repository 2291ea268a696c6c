import type { Logger } from '@ordermesh/runtime';
import { serviceMeter } from '@ordermesh/runtime';
import { Redis } from 'ioredis';

const cacheOperations = serviceMeter('@ordermesh/storage').createCounter('ordermesh.cache.operations', {
  description: 'Cache commands by operation (get, set, invalidate) and result (hit, miss, ok, error)',
  unit: '{operation}',
});
type Operation = 'get' | 'set' | 'invalidate';
type Result = 'hit' | 'miss' | 'ok' | 'error';

export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

/** A codec from a ts-proto message's own encode/decode. */
export function protoCodec<T>(message: {
  encode(value: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}): Codec<T> {
  return { encode: (value) => message.encode(value).finish(), decode: (bytes) => message.decode(bytes) };
}

/**
 * Cache-aside over Redis. Redis is an optimisation, never a dependency: when
 * it is unreachable every method behaves as a miss, the caller reads the
 * database, and the outage is logged once when it starts and once when it ends.
 */
export class Cache {
  private degraded = false;
  /**
   * Keys whose invalidation failed while Redis was away. Left alone they
   * would serve the old value until their TTL ran out, so they are deleted
   * first thing once Redis answers again.
   */
  private readonly missedInvalidations = new Set<string>();

  /** Attribute sets by "operation.result", made once each: counting must not allocate per command. */
  private readonly attributeSets = new Map<string, Record<string, string>>();

  /** `name` tells caches apart in metrics (e.g. "profile", "order"). */
  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly ttlSeconds: number,
    private readonly name = 'default',
  ) {}

  static connect(url: string, log: Logger, ttlSeconds: number, name?: string): Cache {
    return new Cache(connectFailFastRedis(url), log, ttlSeconds, name);
  }

  async get<T>(key: string, codec: Codec<T>): Promise<T | undefined> {
    const bytes = await this.guard('get', () => this.redis.getBuffer(key));
    if (bytes !== undefined) this.count('get', bytes ? 'hit' : 'miss');
    return bytes ? codec.decode(bytes) : undefined;
  }

  async set<T>(key: string, value: T, codec: Codec<T>): Promise<void> {
    const done = await this.guard('set', () =>
      this.redis.set(key, Buffer.from(codec.encode(value)), 'EX', this.ttlSeconds),
    );
    if (done !== undefined) this.count('set', 'ok');
  }

  /** Drops keys after a write that changed what they hold. */
  async invalidate(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const deleted = await this.guard('invalidate', () => this.redis.del(...keys));
    if (deleted !== undefined) {
      this.count('invalidate', 'ok');
      return;
    }
    for (const key of keys) {
      // Bounded: past this, the TTL is what limits staleness.
      if (this.missedInvalidations.size < 100_000) this.missedInvalidations.add(key);
    }
  }

  /**
   * Returns the cached value, or loads it, caches it and returns it. A loaded
   * value that `keep` refuses is returned but not cached: for states that are
   * about to change, so that whatever changes them need not invalidate.
   */
  async getOrLoad<T>(
    key: string,
    codec: Codec<T>,
    load: () => Promise<T | undefined>,
    keep: (value: T) => boolean = () => true,
  ): Promise<T | undefined> {
    const cached = await this.get(key, codec);
    if (cached !== undefined) return cached;
    const loaded = await load();
    if (loaded !== undefined && keep(loaded)) await this.set(key, loaded, codec);
    return loaded;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private count(operation: Operation, result: Result): void {
    const key = `${operation}.${result}`;
    let attributes = this.attributeSets.get(key);
    if (!attributes) {
      attributes = {
        'ordermesh.cache.name': this.name,
        'ordermesh.cache.operation': operation,
        'ordermesh.cache.result': result,
      };
      this.attributeSets.set(key, attributes);
    }
    cacheOperations.add(1, attributes);
  }

  /** Runs a command; on failure counts an error for `operation` and returns undefined. */
  private async guard<R>(operation: Operation, command: () => Promise<R>): Promise<R | undefined> {
    try {
      if (this.missedInvalidations.size > 0) {
        const keys = [...this.missedInvalidations];
        await this.redis.del(...keys);
        for (const key of keys) this.missedInvalidations.delete(key);
      }
      const result = await command();
      if (this.degraded) {
        this.degraded = false;
        this.log.info('cache reachable again');
      }
      return result;
    } catch (error) {
      this.count(operation, 'error');
      if (!this.degraded) {
        this.degraded = true;
        this.log.warn({ err: error }, 'cache unavailable, serving from the database');
      }
      return undefined;
    }
  }
}

/**
 * A Redis client for things that have a fallback (the cache, the login
 * throttle): commands fail within 250 ms instead of queueing while Redis is
 * away, so callers fall back at once, and it reconnects in the background.
 */
export function connectFailFastRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 250,
    connectTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
  });
  // Connection errors surface through failed commands; without a listener ioredis would print them.
  redis.on('error', () => {});
  return redis;
}
