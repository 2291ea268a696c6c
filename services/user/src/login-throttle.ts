import { createHash } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { AppError, type Logger } from '@ordermesh/runtime';
import { connectFailFastRedis } from '@ordermesh/storage';
import type { Redis } from 'ioredis';

/** Where a login attempt comes from: the account it names and the client address it came from. */
export interface LoginAttempt {
  email: string;
  source: string;
}

/** Limits failed logins per account and per source address. */
export interface LoginThrottle {
  /**
   * Runs `login` unless the account or the source is over its limit, in which
   * case it throws RESOURCE_EXHAUSTED without running it. Only failed logins
   * (UNAUTHENTICATED) count; a successful one is taken back.
   */
  guard<T>(attempt: LoginAttempt, login: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface LoginThrottleLimits {
  /** Failed logins allowed per account per window. */
  perAccount: number;
  /** Failed logins allowed per source address per window. */
  perSource: number;
  windowSeconds: number;
}

/** One message for both limits, so the answer says nothing about whether the account exists. */
export const THROTTLED_MESSAGE = 'too many login attempts; wait a few minutes and try again';

const throttled = () => new AppError(status.RESOURCE_EXHAUSTED, THROTTLED_MESSAGE);

/*
 * Why not rate-limiter-flexible (11.4.0): its `reward` is a consume of -1 points,
 * so a success taken back after the window ended (or twice) writes -1, a bonus
 * attempt in a fresh window (RateLimiterRedis `_reward` -> `_upsert(-points)`,
 * whose script does SET 0 NX, INCRBY; MemoryStorage.incrby likewise). And
 * RateLimiterMemory keeps every key, with a timer each, until its window ends:
 * no bound against a flood of made-up emails. Fixing both means our own Lua
 * script (`customIncrTtlLuaScript`) and our own insurance limiter: this file again.
 */

/**
 * Counts one attempt against both keys (a fixed window: the first attempt
 * sets the expiry, later ones do not extend it) and answers 1 when either is
 * over its limit. One script, so concurrent attempts cannot all slip past a check.
 */
const ATTEMPT_SCRIPT = `
local over = 0
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  if count == 1 then redis.call('PEXPIRE', key, ARGV[3]) end
  if count > tonumber(ARGV[i]) then over = 1 end
end
return over`;

/** Takes a successful attempt back, without ever creating a key or going below zero. */
const FORGIVE_SCRIPT = `
for _, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count > 0 then redis.call('DECR', key) end
end
return 0`;

/** Counting stores: Redis, and the in-process fallback used while Redis is away. */
interface Counters {
  /** Counts the attempt; true when it is over either limit. */
  attempt(keys: [string, string], limits: [number, number], windowMs: number): Promise<boolean>;
  forgive(keys: [string, string]): Promise<void>;
}

class RedisCounters implements Counters {
  constructor(private readonly redis: Redis) {}

  async attempt(keys: [string, string], limits: [number, number], windowMs: number): Promise<boolean> {
    return (await this.redis.eval(ATTEMPT_SCRIPT, 2, ...keys, limits[0], limits[1], windowMs)) === 1;
  }

  async forgive(keys: [string, string]): Promise<void> {
    await this.redis.eval(FORGIVE_SCRIPT, 2, ...keys);
  }
}

/**
 * Per-process counters with the same fixed windows. Bounded: past
 * `maxKeys`, expired windows are dropped, and if that is not enough the
 * oldest are, so a flood of made-up emails cannot grow memory without limit.
 */
export class MemoryCounters implements Counters {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now = () => Date.now(),
  ) {}

  async attempt(keys: [string, string], limits: [number, number], windowMs: number): Promise<boolean> {
    const now = this.now();
    let over = false;
    keys.forEach((key, i) => {
      let window = this.windows.get(key);
      if (!window || window.endsAt <= now) {
        this.makeRoom(now);
        window = { count: 0, endsAt: now + windowMs };
        this.windows.set(key, window);
      }
      window.count += 1;
      if (window.count > (limits[i] ?? 0)) over = true;
    });
    return over;
  }

  async forgive(keys: [string, string]): Promise<void> {
    for (const key of keys) {
      const window = this.windows.get(key);
      if (window && window.count > 0) window.count -= 1;
    }
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.maxKeys) return;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
    // Maps iterate in insertion order: the first keys are the oldest windows.
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}

/**
 * The throttle of the Login RPC, in Redis so that every replica shares it and
 * a restart does not reset it. Redis down fails open to per-process counters
 * (see docs/security.md): login stays available, and guessing stays bounded
 * per replica instead of shared across them.
 */
export class RedisLoginThrottle implements LoginThrottle {
  private degraded = false;
  private readonly memory = new MemoryCounters();

  constructor(
    private readonly redis: Redis,
    private readonly limits: LoginThrottleLimits,
    private readonly log: Logger,
    private readonly keyPrefix: string,
  ) {}

  /**
   * Connects, waiting up to `readyWithinMs` for Redis: logins right after a
   * start would otherwise be counted in the process only, and a restart would
   * briefly lift the throttle. Redis still down then is the fallback's case.
   */
  static async connect(
    url: string,
    limits: LoginThrottleLimits,
    log: Logger,
    keyPrefix: string,
    readyWithinMs = 2_000,
  ): Promise<RedisLoginThrottle> {
    // Fails fast to the in-memory fallback instead of making logins wait for Redis.
    const redis = connectFailFastRedis(url);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, readyWithinMs);
      redis.once('ready', done);
    });
    return new RedisLoginThrottle(redis, limits, log, keyPrefix);
  }

  async guard<T>(attempt: LoginAttempt, login: () => Promise<T>): Promise<T> {
    const keys = this.keys(attempt);
    const limits: [number, number] = [this.limits.perAccount, this.limits.perSource];
    const windowMs = this.limits.windowSeconds * 1_000;
    if (await this.counted((counters) => counters.attempt(keys, limits, windowMs))) {
      this.log.warn({ source: attempt.source }, 'login throttled');
      throw throttled();
    }
    try {
      const result = await login();
      await this.counted((counters) => counters.forgive(keys));
      return result;
    } catch (error) {
      // Wrong credentials count; a failure of ours (database down, say) does not.
      if (!(error instanceof AppError && error.code === status.UNAUTHENTICATED)) {
        await this.counted((counters) => counters.forgive(keys));
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  /**
   * The email is hashed: Redis keys then hold no addresses, and an unknown
   * email is counted exactly like a known one.
   */
  private keys({ email, source }: LoginAttempt): [string, string] {
    const account = createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
    return [`${this.keyPrefix}:account:${account}`, `${this.keyPrefix}:source:${source}`];
  }

  private async counted<R>(command: (counters: Counters) => Promise<R>): Promise<R> {
    try {
      const result = await command(new RedisCounters(this.redis));
      if (this.degraded) {
        this.degraded = false;
        this.log.info('login throttle: Redis reachable again');
      }
      return result;
    } catch (error) {
      if (!this.degraded) {
        this.degraded = true;
        this.log.warn({ err: error }, 'login throttle: Redis unavailable, counting in this process only');
      }
      return command(this.memory);
    }
  }
}

/**
 * Keys are namespaced by the user database: each database is its own set of
 * accounts, and deployments sharing one Redis (environments, test suites)
 * never throttle each other.
 */
export const loginThrottleKeyPrefix = (databaseUrl: string) =>
  `login-throttle:v1:${new URL(databaseUrl).pathname.slice(1) || 'default'}`;

/** Which address identifies a client: the TCP peer, or a header the ingress sets. */
export type SourceAddressFrom = 'peer' | 'x-envoy-external-address' | 'x-forwarded-for';

/**
 * The client address to throttle by. A header is read only when configured:
 * behind the mesh ingress the TCP peer is the sidecar, and the gateway puts the
 * real client in x-envoy-external-address (and appends it to x-forwarded-for);
 * without an ingress in front, anybody could write those headers. Of
 * x-forwarded-for only the last entry counts, the one the ingress appended;
 * the earlier ones are whatever the client sent. Falls back to the peer when
 * the header is missing (a call from inside the mesh).
 */
export function sourceAddress(peer: string, metadata: Metadata, from: SourceAddressFrom): string {
  if (from !== 'peer') {
    const value = metadata.get(from).at(-1);
    const address =
      typeof value === 'string'
        ? from === 'x-forwarded-for'
          ? value.split(',').at(-1)?.trim()
          : value.trim()
        : undefined;
    // Bounded, so that a key stays small whatever the header held.
    if (address) return address.slice(0, 64);
  }
  return peerHost(peer);
}

/** "1.2.3.4:5678" → "1.2.3.4", "[::1]:5678" → "::1", "::ffff:1.2.3.4:5678" → "::ffff:1.2.3.4". */
export function peerHost(peer: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(peer);
  if (bracketed?.[1]) return bracketed[1];
  const withPort = /^(.*):\d+$/.exec(peer);
  return withPort?.[1] || peer;
}
