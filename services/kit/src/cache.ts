import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

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

  constructor(
    private readonly redis: Redis,
    private readonly log: Logger,
    private readonly ttlSeconds: number,
  ) {}

  static connect(url: string, log: Logger, ttlSeconds: number): Cache {
    const redis = new Redis(url, {
      // Fail fast instead of queueing commands while Redis is away.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: 250,
      connectTimeout: 1_000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    });
    // Connection errors surface through failed commands; without a listener ioredis would print them.
    redis.on('error', () => {});
    return new Cache(redis, log, ttlSeconds);
  }

  async get<T>(key: string, codec: Codec<T>): Promise<T | undefined> {
    const bytes = await this.guard(() => this.redis.getBuffer(key));
    return bytes ? codec.decode(bytes) : undefined;
  }

  async set<T>(key: string, value: T, codec: Codec<T>): Promise<void> {
    await this.guard(() => this.redis.set(key, Buffer.from(codec.encode(value)), 'EX', this.ttlSeconds));
  }

  /** Drops keys after a write that changed what they hold. */
  async invalidate(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const deleted = await this.guard(() => this.redis.del(...keys));
    if (deleted !== undefined) return;
    for (const key of keys) {
      // Bounded: past this, the TTL is what limits staleness.
      if (this.missedInvalidations.size < 100_000) this.missedInvalidations.add(key);
    }
  }

  /** Returns the cached value, or loads it, caches it and returns it. */
  async getOrLoad<T>(key: string, codec: Codec<T>, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const cached = await this.get(key, codec);
    if (cached !== undefined) return cached;
    const loaded = await load();
    if (loaded !== undefined) await this.set(key, loaded, codec);
    return loaded;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private async guard<R>(command: () => Promise<R>): Promise<R | undefined> {
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
      if (!this.degraded) {
        this.degraded = true;
        this.log.warn({ err: error }, 'cache unavailable, serving from the database');
      }
      return undefined;
    }
  }
}
