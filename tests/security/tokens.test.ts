import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ensureKeyPair, ensureSigningKey, Platform } from '@ordermesh/dev/platform';
import { UserServiceClient } from '@ordermesh/proto/user';
import { call, createMigratedDatabase, failure } from '@ordermesh/testing';
import { connect } from 'amqplib';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { forgedAccessTokens, malformedAuthorization } from './support/identity-forgery.ts';

/**
 * Access tokens against a real UserService process: every forged, stale or
 * malformed token is refused with the same UNAUTHENTICATED answer, and the
 * signing key can rotate without logging anybody out (both keys verify and
 * are published in the JWKS Istio's RequestAuthentication reads).
 */

const GRPC_BASE_PORT = 28000; // UserService on 28001, its metrics on 28011
const JWKS_PORT = 28090;
const PASSWORD = 'a long enough password';
const runId = randomUUID().slice(0, 8);
const exchange = `ordermesh.test.tokens_${runId}`;
const stateDir = join(tmpdir(), `ordermesh-tokens-${runId}`);

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let platform: Platform;
let users: UserServiceClient;
const settings = { issuer: 'ordermesh-user', audience: 'ordermesh' };

beforeAll(async () => {
  database = await createMigratedDatabase('user');
  platform = new Platform({
    databaseSuffix: `_tokens_${runId}`,
    grpcBasePort: GRPC_BASE_PORT,
    jwksPort: JWKS_PORT,
    stateDir,
    smtpUrl: 'smtp://127.0.0.1:1',
    env: { user: { DATABASE_URL: database.url, EVENTS_EXCHANGE: exchange, PASSWORD_SCRYPT_LOG_N: '12' } },
  });
  await platform.start(['user']);
  users = new UserServiceClient(platform.address('user'), credentials.createInsecure());
}, 120_000);

afterAll(async () => {
  users?.close();
  await platform?.stop();
  await database?.drop();
  const broker = await connect('amqp://guest:guest@127.0.0.1:5672');
  const channel = await broker.createChannel();
  await channel.deleteQueue(`${exchange}.unrouted`);
  await channel.deleteExchange(exchange);
  await channel.deleteExchange(`${exchange}.unrouted`);
  await broker.close();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

async function signUp(): Promise<{ userId: string; email: string; token: string }> {
  const email = `${randomUUID()}@example.com`;
  const { user } = await call(users.register.bind(users), {
    idempotencyKey: randomUUID(),
    email,
    password: PASSWORD,
    displayName: 'Token Tester',
  });
  return { userId: user?.id ?? '', email, token: await login(email) };
}

const login = async (email: string) => (await call(users.login.bind(users), { email, password: PASSWORD })).accessToken;

/** GetProfile with a raw authorization header (or none). */
function profileWith(header: string | undefined) {
  const metadata = new Metadata();
  if (header !== undefined) metadata.set('authorization', header);
  return new Promise((resolve, reject) =>
    users.getProfile({}, metadata, { deadline: new Date(Date.now() + 15_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

const profileOf = (token: string) => call(users.getProfile.bind(users), {}, token);

async function fetchJwks(): Promise<JSONWebKeySet> {
  const response = await fetch(`http://127.0.0.1:${JWKS_PORT}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return (await response.json()) as JSONWebKeySet;
}

async function restartUser(env: Record<string, string>) {
  await platform.stopService('user');
  await platform.startService('user', env);
}

describe('UserService access tokens', () => {
  it('refuses every forged, stale or malformed token with one UNAUTHENTICATED message', async () => {
    const me = await signUp();
    await expect(profileOf(me.token)).resolves.toMatchObject({ user: { id: me.userId } });

    const signingKey = readFileSync(ensureSigningKey(stateDir).privateKeyFile, 'utf8');
    const { tokens } = forgedAccessTokens(signingKey, { iss: settings.issuer, aud: settings.audience, sub: me.userId });
    const headers: Record<string, string | undefined> = {
      ...Object.fromEntries(Object.entries(tokens).map(([name, token]) => [name, `Bearer ${token}`])),
      ...malformedAuthorization(me.token),
    };
    const outcomes: { name: string; code: status | undefined; details: string | undefined }[] = [];
    for (const [name, header] of Object.entries(headers)) {
      const error: ServiceError = await failure(profileWith(header));
      outcomes.push({ name, code: error.code, details: error.details });
    }
    for (const { name, code } of outcomes) expect({ name, code }).toEqual({ name, code: status.UNAUTHENTICATED });
    // The answer never says which check failed.
    const messages = new Set(outcomes.map((o) => o.details));
    expect(messages).toEqual(new Set(['missing, invalid or expired access token']));
    console.log(
      `${outcomes.length} bad tokens and headers refused alike:\n  ${outcomes.map((o) => o.name).join('\n  ')}`,
    );
  });

  it('publishes a JWKS Istio RequestAuthentication can use', async () => {
    const jwks = await fetchJwks();
    expect(jwks.keys).toHaveLength(1);
    const [key] = jwks.keys;
    expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
  });

  it('rotates its signing key: both keys verify and are published during the rotation, a removed one stops working', async () => {
    const before = await signUp();
    const oldKid = decodeProtectedHeader(before.token).kid;
    const oldKey = ensureSigningKey(stateDir);
    const newKey = ensureKeyPair(stateDir, 'jwt-next');
    const expectSignedIn = (token: string) =>
      expect(profileOf(token)).resolves.toMatchObject({ user: { id: before.userId } });

    // Phase 1: publish the next key before it signs, so verifiers caching the JWKS (Istio) know it in time.
    await restartUser({ JWT_EXTRA_PUBLIC_KEY_FILES: newKey.publicKeyFile });
    const stillOld = await login(before.email);
    expect(decodeProtectedHeader(stillOld).kid).toBe(oldKid);
    expect((await fetchJwks()).keys).toHaveLength(2);

    // Phase 2: sign with the next key, keep accepting (and publishing) the old one until its tokens expire.
    await restartUser({
      JWT_PRIVATE_KEY_FILE: newKey.privateKeyFile,
      JWT_EXTRA_PUBLIC_KEY_FILES: oldKey.publicKeyFile,
    });
    const fresh = await login(before.email);
    const newKid = decodeProtectedHeader(fresh).kid;
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);
    await expectSignedIn(before.token);
    await expectSignedIn(fresh);

    const rotating = await fetchJwks();
    expect(rotating.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    // As Istio does: the kid picks the key.
    const verifyWith = createLocalJWKSet(rotating);
    for (const token of [before.token, fresh]) {
      await expect(jwtVerify(token, verifyWith, settings)).resolves.toMatchObject({ payload: { sub: before.userId } });
    }

    // Phase 3, once every old token has expired: drop the old key.
    await restartUser({ JWT_PRIVATE_KEY_FILE: newKey.privateKeyFile });
    const error = await failure(profileOf(before.token));
    expect({ code: error.code, details: error.details }).toEqual({
      code: status.UNAUTHENTICATED,
      details: 'missing, invalid or expired access token',
    });
    await expectSignedIn(fresh);
    expect((await fetchJwks()).keys.map((k) => k.kid)).toEqual([newKid]);
  }, 120_000);

  it('refuses to start with an extra key file it cannot read, naming the variable', async () => {
    await platform.stopService('user');
    const started = platform.startService('user', { JWT_EXTRA_PUBLIC_KEY_FILES: join(stateDir, 'missing.pem') });
    await expect(started).rejects.toThrow(/JWT_EXTRA_PUBLIC_KEY_FILES: .*missing\.pem/);
    await platform.startService('user');
  }, 120_000);
});
