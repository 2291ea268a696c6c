import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TokenIssuer, TokenVerifier } from '@ordermesh/identity';
import { decodeEvent } from '@ordermesh/messaging';
import { User } from '@ordermesh/proto/user';
import { createLogger } from '@ordermesh/runtime';
import { Cache, protoCodec } from '@ordermesh/storage';
import {
  connectDatabaseUnderTest,
  createMigratedDatabase,
  type DatabaseUnderTest,
  eventually,
  failure,
  query,
} from '@ordermesh/testing';
import { Redis } from 'ioredis';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { PostgresUserStore } from '../src/store.js';
import { Users } from '../src/users.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const settings = { issuer: 'ordermesh-user-test', audience: 'ordermesh-test' };
const PASSWORD = 'a long enough password';

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let db: InstanceType<typeof PrismaClient>;
let connections: DatabaseUnderTest<InstanceType<typeof PrismaClient>>;
let cache: Cache;
let redis: Redis;
let users: Users;
let verifier: TokenVerifier;
let strangerVerifier: TokenVerifier;
let publicPem = '';
let written = 0;
const userIds = new Set<string>();

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const cacheKey = (userId: string) => `user:v1:${userId}`;

async function register(email = `${randomUUID()}@example.test`, idempotencyKey = randomUUID()) {
  const user = await users.register({ idempotencyKey, email, password: PASSWORD, displayName: 'Ada' });
  userIds.add(user.id);
  return user;
}

beforeAll(async () => {
  database = await createMigratedDatabase('user');
  connections = await connectDatabaseUnderTest(PrismaClient, database.url, { max: 10 });
  db = connections.db;
  const log = createLogger('users-test', 'silent');
  cache = Cache.connect(REDIS_URL, log, 60);
  redis = new Redis(REDIS_URL);
  const keys = keyPair();
  const issuer = await TokenIssuer.fromPem(keys.privatePem, { ...settings, ttlSeconds: 300 });
  publicPem = keys.publicPem;
  verifier = TokenVerifier.fromPem([publicPem], settings);
  strangerVerifier = TokenVerifier.fromPem([keyPair().publicPem], settings);
  users = new Users(new PostgresUserStore(connections.pool), issuer, cache, protoCodec(User), 10, () => {
    written += 1;
  });
  // Commands sent before the cache has connected are misses by design; start from a connected one.
  const probe = `ordermesh-test:${randomUUID()}`;
  await eventually('the cache to reach Redis', async () => {
    await cache.set(probe, 'x', { encode: (v: string) => Buffer.from(v), decode: (b) => Buffer.from(b).toString() });
    return (await redis.exists(probe)) === 1;
  });
  await redis.del(probe);
}, 30_000);

afterAll(async () => {
  if (userIds.size > 0) await redis?.del(...[...userIds].map(cacheKey));
  redis?.disconnect();
  await cache?.close();
  await connections?.close();
  await database?.drop();
}, 30_000);

describe('Users.register', () => {
  it('creates one user when the same registration races, and answers all with it', async () => {
    const email = `${randomUUID()}@example.test`;
    const key = randomUUID();
    const writtenBefore = written;

    const answers = await Promise.all(Array.from({ length: 8 }, () => register(email, key)));

    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]).toMatchObject({ email, displayName: 'Ada' });
    expect(await db.user.count({ where: { email } })).toBe(1);
    const events = await db.outboxEvent.findMany({ where: { routingKey: 'user.registered' } });
    const mine = events.filter((row) => decodeEvent('user.registered', row.payload).email === email);
    expect(mine).toHaveLength(1);
    expect(decodeEvent('user.registered', mine[0]?.payload ?? new Uint8Array())).toMatchObject({
      userId: answers[0]?.id,
      displayName: 'Ada',
    });
    expect(written - writtenBefore).toBe(1);
  });

  it('refuses the same email under another key with ALREADY_EXISTS, also when both race', async () => {
    const email = `${randomUUID()}@example.test`;
    await register(email);
    expect(await failure(register(email))).toMatchObject({ code: status.ALREADY_EXISTS });

    const racedEmail = `${randomUUID()}@example.test`;
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => register(racedEmail)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const outcome of outcomes.filter((o) => o.status === 'rejected')) {
      expect(outcome.reason).toMatchObject({ code: status.ALREADY_EXISTS });
    }
    expect(await db.user.count({ where: { email: racedEmail } })).toBe(1);
  });

  it('refuses a key reused for a different email', async () => {
    const key = randomUUID();
    await register(`${randomUUID()}@example.test`, key);
    const error = await failure(register(`${randomUUID()}@example.test`, key));
    expect(error).toMatchObject({ code: status.ALREADY_EXISTS });
    expect(error.message).toContain('idempotency_key');
  });

  it('treats email case-insensitively: stored lower-cased, one account per address, any case logs in', async () => {
    const local = randomUUID();
    const user = await register(`  ${local.toUpperCase()}@Example.TEST `);
    expect(user.email).toBe(`${local}@example.test`);
    const rows = await query<{ email: string }>(database.url, 'SELECT email FROM users WHERE id = $1', [user.id]);
    expect(rows).toEqual([{ email: `${local}@example.test` }]);

    expect(await failure(register(`${local}@example.test`))).toMatchObject({ code: status.ALREADY_EXISTS });
    const session = await users.login(`${local.toUpperCase()}@EXAMPLE.test`, PASSWORD);
    expect(session.user?.id).toBe(user.id);
  });

  it('stores an scrypt hash, not the password', async () => {
    const user = await register();
    const [row] = await query<{ password_hash: string }>(
      database.url,
      'SELECT password_hash FROM users WHERE id = $1',
      [user.id],
    );
    expect(row?.password_hash).toMatch(/^scrypt\$10\$8\$1\$/);
    expect(row?.password_hash).not.toContain(PASSWORD);
  });
});

describe('Users.login', () => {
  it('answers a wrong password and an unknown email with the same UNAUTHENTICATED', async () => {
    const user = await register();
    const wrongPassword = await failure(users.login(user.email, 'not the password'));
    const unknownEmail = await failure(users.login(`${randomUUID()}@example.test`, PASSWORD));
    expect(wrongPassword).toMatchObject({ code: status.UNAUTHENTICATED });
    expect(unknownEmail).toMatchObject({ code: status.UNAUTHENTICATED });
    expect(unknownEmail.message).toBe(wrongPassword.message);
  });

  it('issues a token that verifies to the user, and only with the right key', async () => {
    const user = await register();
    const session = await users.login(user.email, PASSWORD);
    expect(session.user).toEqual(user);
    expect(session.expiresAt.getTime()).toBeGreaterThan(Date.now() + 290_000);

    expect(await verifier.verify(session.accessToken)).toBe(user.id);
    expect(await failure(strangerVerifier.verify(session.accessToken))).toMatchObject({
      code: status.UNAUTHENTICATED,
    });
    // The right key but another audience or issuer.
    const otherAudience = TokenVerifier.fromPem([publicPem], { ...settings, audience: 'someone-else' });
    const otherIssuer = TokenVerifier.fromPem([publicPem], { ...settings, issuer: 'someone-else' });
    expect(await failure(otherIssuer.verify(session.accessToken))).toMatchObject({ code: status.UNAUTHENTICATED });
    expect(await failure(otherAudience.verify(session.accessToken))).toMatchObject({ code: status.UNAUTHENTICATED });
    // A tampered token fails too.
    const [header, payload, signature] = session.accessToken.split('.');
    const forged = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    forged.sub = randomUUID();
    const tampered = [header, Buffer.from(JSON.stringify(forged)).toString('base64url'), signature].join('.');
    expect(await failure(verifier.verify(tampered))).toMatchObject({ code: status.UNAUTHENTICATED });
  });
});

describe('Users.profile', () => {
  it('serves the profile from the cache, and an update invalidates it', async () => {
    const user = await register();
    expect(await users.profile(user.id)).toEqual(user);
    expect(await redis.exists(cacheKey(user.id))).toBe(1);
    expect(await redis.ttl(cacheKey(user.id))).toBeGreaterThan(50);

    // Changed behind the cache's back: the cached profile is still what is served.
    await query(database.url, "UPDATE users SET display_name = 'Changed Directly' WHERE id = $1", [user.id]);
    expect((await users.profile(user.id)).displayName).toBe('Ada');

    // An update through Users drops the cached profile.
    const updated = await users.updateProfile(user.id, 'Countess of Lovelace');
    expect(updated.displayName).toBe('Countess of Lovelace');
    expect(await redis.exists(cacheKey(user.id))).toBe(0);
    expect(await users.profile(user.id)).toEqual(updated);
  });

  it('answers NOT_FOUND for an unknown user, and caches nothing for it', async () => {
    const id = randomUUID();
    userIds.add(id);
    expect(await failure(users.profile(id))).toMatchObject({ code: status.NOT_FOUND });
    expect(await failure(users.updateProfile(id, 'Nobody'))).toMatchObject({ code: status.NOT_FOUND });
    expect(await redis.exists(cacheKey(id))).toBe(0);
  });
});
