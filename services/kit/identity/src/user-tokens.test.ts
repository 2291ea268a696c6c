import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { rejection } from '@ordermesh/testing';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { forgedAccessTokens, malformedAuthorization } from '../../../../tests/security/support/identity-forgery.ts';
import { TokenIssuer, TokenVerifier } from './user-tokens.js';

const settings = { issuer: 'ordermesh-user', audience: 'ordermesh', ttlSeconds: 600 };
const pemPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};

const bearer = (header: string | undefined) => {
  const metadata = new Metadata();
  if (header !== undefined) metadata.set('authorization', header);
  return metadata;
};

describe('TokenVerifier', () => {
  const key = pemPair();
  const verifier = TokenVerifier.fromPem([key.publicPem], settings);
  const claims = { iss: settings.issuer, aud: settings.audience, sub: randomUUID() };

  it('accepts a well-formed token signed by the key', async () => {
    const { good } = forgedAccessTokens(key.privatePem, claims);
    await expect(verifier.authenticate(bearer(`Bearer ${good}`))).resolves.toBe(claims.sub);
  });

  it('refuses every forged, stale or malformed token with the same UNAUTHENTICATED message', async () => {
    const { good, tokens } = forgedAccessTokens(key.privatePem, claims);
    const headers: Record<string, string | undefined> = {
      ...Object.fromEntries(Object.entries(tokens).map(([name, token]) => [name, `Bearer ${token}`])),
      ...malformedAuthorization(good),
    };
    const outcomes = await Promise.all(
      Object.entries(headers).map(async ([name, header]) => ({
        name,
        ...(await rejection(verifier.authenticate(bearer(header)))),
      })),
    );
    for (const { name, code } of outcomes) expect({ name, code }).toEqual({ name, code: status.UNAUTHENTICATED });
    expect(new Set(outcomes.map((o) => o.message))).toEqual(new Set(['missing, invalid or expired access token']));
  });

  it('allows a little clock skew, so a token minted a second "in the future" by another host still works', async () => {
    const { good } = forgedAccessTokens(key.privatePem, claims, Date.now() / 1000 + 5);
    await expect(verifier.verify(good)).resolves.toBe(claims.sub);
  });
});

describe('TokenIssuer during a key rotation', () => {
  it('signs with the new key, publishes both with distinct kids, and verifies tokens of either', async () => {
    const old = pemPair();
    const next = pemPair();
    const before = await TokenIssuer.fromPem(old.privatePem, settings);
    const [oldUser, newUser] = [randomUUID(), randomUUID()];
    const oldToken = (await before.issue(oldUser)).token;

    const rotating = await TokenIssuer.fromPem(next.privatePem, settings, [old.publicPem]);
    const newToken = (await rotating.issue(newUser)).token;
    const { keys } = rotating.jwks();
    expect(keys).toHaveLength(2);
    expect(new Set(keys.map((k) => k.kid)).size).toBe(2);
    for (const jwk of keys) {
      expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    }
    // What Istio does with the JWKS: pick the key by kid, verify.
    const jwks = createLocalJWKSet(rotating.jwks());
    for (const token of [oldToken, newToken]) {
      await expect(
        jwtVerify(token, jwks, { issuer: settings.issuer, audience: settings.audience }),
      ).resolves.toBeTruthy();
    }
    const verifier = rotating.verifier();
    await expect(verifier.verify(oldToken)).resolves.toBe(oldUser);
    await expect(verifier.verify(newToken)).resolves.toBe(newUser);

    const after = await TokenIssuer.fromPem(next.privatePem, settings);
    expect(after.jwks().keys).toHaveLength(1);
    expect((await rejection(after.verifier().verify(oldToken))).code).toBe(status.UNAUTHENTICATED);
    await expect(after.verifier().verify(newToken)).resolves.toBe(newUser);
  });

  it('publishes a key listed twice once', async () => {
    const key = pemPair();
    const issuer = await TokenIssuer.fromPem(key.privatePem, settings, [key.publicPem]);
    expect(issuer.jwks().keys).toHaveLength(1);
  });

  it('refuses a signing key that is not P-256', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(TokenIssuer.fromPem(pem, settings)).rejects.toThrow(
      'the token signing key must be an EC P-256 (ES256) key',
    );
  });
});
