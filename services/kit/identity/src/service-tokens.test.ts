import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata, status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from '@jest/globals';
import { rejection } from '@ordermesh/testing';
import { SignJWT } from 'jose';
import {
  allowCallers,
  readTrustedCallerKeys,
  SERVICE_TOKEN_METADATA,
  ServiceTokenSigner,
  ServiceTokenVerifier,
  unboundFields,
} from './service-tokens.js';

const pemPair = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
};

const user = pemPair();
const order = pemPair();
const t0 = 1_800_000_000_000;

const verifierFor = (audience: string, now: () => number = () => t0) =>
  ServiceTokenVerifier.fromPem(
    audience,
    new Map([
      ['user', [user.publicPem]],
      ['order', [order.publicPem]],
    ]),
    now,
  );

const withToken = (token: string) => {
  const metadata = new Metadata();
  metadata.set(SERVICE_TOKEN_METADATA, token);
  return metadata;
};

describe('service tokens', () => {
  it('verify as the signing caller, for the audience they were made for', async () => {
    const signer = ServiceTokenSigner.fromPem('user', user.privatePem, () => t0);
    const caller = await verifierFor('payment').verify(withToken(await signer.token('payment')));
    expect(caller).toEqual({ name: 'user' });
  });

  it('are cached per callee and renewed before they expire', async () => {
    let now = t0;
    const signer = ServiceTokenSigner.fromPem('user', user.privatePem, () => now);
    const first = await signer.token('order');
    expect(await signer.token('order')).toBe(first);
    expect(await signer.token('payment')).not.toBe(first);
    now += 45_000; // 15 s left of 60: renewed
    const renewed = await signer.token('order');
    expect(renewed).not.toBe(first);
    await expect(verifierFor('order', () => now).verify(withToken(renewed))).resolves.toEqual({ name: 'user' });
  });

  it('refuses every bad token with one UNAUTHENTICATED message', async () => {
    const verifier = verifierFor('payment');
    const sign = (caller: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', typ: 'ordermesh-service+jwt' })
        .setIssuer(caller)
        .setSubject(caller)
        .setAudience('payment');
    const stranger = pemPair();
    const good = await ServiceTokenSigner.fromPem('user', user.privatePem, () => t0).token('payment');
    const [header, payload] = good.split('.');
    const cases: Record<string, Metadata> = {
      'no token': new Metadata(),
      garbage: withToken('not-a-token'),
      'for another callee': withToken(
        await ServiceTokenSigner.fromPem('user', user.privatePem, () => t0).token('order'),
      ),
      expired: withToken(
        await sign('user')
          .setIssuedAt(t0 / 1000 - 600)
          .setExpirationTime(t0 / 1000 - 540)
          .sign(user.privateKey),
      ),
      'issued in the future': withToken(
        await sign('user')
          .setIssuedAt(t0 / 1000 + 600)
          .setExpirationTime(t0 / 1000 + 660)
          .sign(user.privateKey),
      ),
      'long-lived': withToken(
        await sign('user')
          .setIssuedAt(t0 / 1000 - 3600)
          .setExpirationTime(t0 / 1000 + 3600)
          .sign(user.privateKey),
      ),
      'signed by a stranger claiming to be user': withToken(
        await sign('user')
          .setIssuedAt(t0 / 1000)
          .setExpirationTime(t0 / 1000 + 60)
          .sign(stranger.privateKey),
      ),
      'signed by user claiming to be order': withToken(
        await sign('order')
          .setIssuedAt(t0 / 1000)
          .setExpirationTime(t0 / 1000 + 60)
          .sign(user.privateKey),
      ),
      'from an unknown caller': withToken(
        await sign('billing')
          .setIssuedAt(t0 / 1000)
          .setExpirationTime(t0 / 1000 + 60)
          .sign(stranger.privateKey),
      ),
      'alg none': withToken(
        `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'ordermesh-service+jwt' })).toString('base64url')}.${payload}.`,
      ),
      'an end-user access token (other typ)': withToken(
        await new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
          .setIssuer('user')
          .setSubject('user')
          .setAudience('payment')
          .setIssuedAt(t0 / 1000)
          .setExpirationTime(t0 / 1000 + 60)
          .sign(user.privateKey),
      ),
      'tampered payload': withToken(
        `${header}.${Buffer.from(JSON.stringify({ iss: 'order', sub: 'order', aud: 'payment', iat: t0 / 1000, exp: t0 / 1000 + 60 })).toString('base64url')}.${good.split('.')[2]}`,
      ),
    };
    const twice = new Metadata();
    twice.add(SERVICE_TOKEN_METADATA, good);
    twice.add(SERVICE_TOKEN_METADATA, good);
    cases['sent twice'] = twice;

    const outcomes = await Promise.all(
      Object.entries(cases).map(
        async ([name, metadata]) => [name, await rejection(verifier.verify(metadata))] as const,
      ),
    );
    for (const [name, outcome] of outcomes) {
      expect({ name, code: outcome.code }).toEqual({ name, code: status.UNAUTHENTICATED });
    }
    expect(new Set(outcomes.map(([, outcome]) => outcome.message)).size).toBe(1);
  });

  it('stop verifying once they lapse, even after they were verified (and remembered) before', async () => {
    let now = t0;
    const verifier = verifierFor('order', () => now);
    const token = await ServiceTokenSigner.fromPem('user', user.privatePem, () => t0).token('order');
    for (const later of [0, 30_000, 69_000]) {
      now = t0 + later;
      await expect(verifier.verify(withToken(token))).resolves.toEqual({ name: 'user' });
    }
    now = t0 + 71_000; // exp (60 s) plus the 10 s clock leeway
    expect((await rejection(verifier.verify(withToken(token)))).code).toBe(status.UNAUTHENTICATED);
  });

  it('stop verifying at the very millisecond they lapse', async () => {
    let now = t0;
    const verifier = verifierFor('order', () => now);
    const token = await ServiceTokenSigner.fromPem('user', user.privatePem, () => t0).token('order');
    await expect(verifier.verify(withToken(token))).resolves.toEqual({ name: 'user' });
    now = t0 + 69_999;
    await expect(verifier.verify(withToken(token))).resolves.toEqual({ name: 'user' });
    now = t0 + 70_000; // exp (60 s) plus the 10 s clock leeway: jose refuses it from here on, so must the cache
    expect((await rejection(verifier.verify(withToken(token)))).code).toBe(status.UNAUTHENTICATED);
  });

  it('are not remembered past their lapse when first verified in its last millisecond', async () => {
    let now = t0 + 69_999;
    const verifier = verifierFor('order', () => now);
    const token = await ServiceTokenSigner.fromPem('user', user.privatePem, () => t0).token('order');
    await expect(verifier.verify(withToken(token))).resolves.toEqual({ name: 'user' });
    now = t0 + 71_000;
    expect((await rejection(verifier.verify(withToken(token)))).code).toBe(status.UNAUTHENTICATED);
  });

  it('lapse from memory too with a clock that starts at 0', async () => {
    let now = 0;
    const verifier = verifierFor('order', () => now);
    const token = await ServiceTokenSigner.fromPem('user', user.privatePem, () => 0).token('order');
    await expect(verifier.verify(withToken(token))).resolves.toEqual({ name: 'user' });
    now = 70_000;
    expect((await rejection(verifier.verify(withToken(token)))).code).toBe(status.UNAUTHENTICATED);
  });

  it('are remembered 1024 at most, the least recently used forgotten first', async () => {
    let now = t0;
    const verifier = verifierFor('order', () => now);
    const tokens = await Promise.all(
      Array.from({ length: 1025 }, (_, n) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', typ: 'ordermesh-service+jwt' })
          .setIssuer('user')
          .setSubject('user')
          .setAudience('order')
          .setJti(String(n))
          .setIssuedAt(t0 / 1000)
          .setExpirationTime(t0 / 1000 + 60)
          .sign(user.privateKey),
      ),
    );
    for (const token of tokens) await verifier.verify(withToken(token));
    // Issued a minute "in the future" now: refused when verified afresh, answered only from memory.
    now = t0 - 60_000;
    await expect(verifier.verify(withToken(tokens[1024] as string))).resolves.toEqual({ name: 'user' });
    expect((await rejection(verifier.verify(withToken(tokens[0] as string)))).code).toBe(status.UNAUTHENTICATED);
  });

  it('accept the old and the new key of a caller while it rotates', async () => {
    const next = pemPair();
    const verifier = ServiceTokenVerifier.fromPem(
      'order',
      new Map([['user', [user.publicPem, next.publicPem]]]),
      () => t0,
    );
    for (const pem of [user.privatePem, next.privatePem]) {
      const token = await ServiceTokenSigner.fromPem('user', pem, () => t0).token('order');
      await expect(verifier.verify(withToken(token))).resolves.toEqual({ name: 'user' });
    }
  });

  it('carry a request binding only in the token made for that request', async () => {
    const signer = ServiceTokenSigner.fromPem('order', order.privatePem, () => t0);
    // A charge's binding (@ordermesh/proto/charge-binding).
    const binding = { order_id: 'o-1', user_id: 'u-1', payment_method_id: 'pm-1', amount_minor: 2950, currency: 'EUR' };
    const metadata = await signer.metadata('payment', binding);
    const caller = await verifierFor('payment').verify(metadata);
    expect(caller).toEqual({ name: 'order', binding });
    expect(unboundFields(binding, { ...binding, amount_minor: 1 })).toEqual(['amount_minor']);
    expect(unboundFields(binding, binding)).toEqual([]);
    // The cached per-callee token stays unbound.
    expect(await verifierFor('payment').verify(withToken(await signer.token('payment')))).toEqual({ name: 'order' });
  });
});

describe('allowCallers', () => {
  const allowed = { charge: ['order'], getPayment: ['user'] } as const;

  it('lets a verified caller call the methods named for it, and refuses the others with PERMISSION_DENIED', async () => {
    const authorize = allowCallers(verifierFor('payment'), allowed);
    const asUser = withToken(await ServiceTokenSigner.fromPem('user', user.privatePem, () => t0).token('payment'));
    await expect(authorize('getPayment', asUser)).resolves.toEqual({ name: 'user' });
    expect(await rejection(authorize('charge', asUser))).toEqual({
      code: status.PERMISSION_DENIED,
      message: 'service user may not call charge',
    });
  });

  it('answers UNAUTHENTICATED, not PERMISSION_DENIED, when there is no valid identity at all', async () => {
    const authorize = allowCallers(verifierFor('payment'), allowed);
    expect((await rejection(authorize('charge', new Metadata()))).code).toBe(status.UNAUTHENTICATED);
  });
});

describe('readTrustedCallerKeys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ordermesh-trusted-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads caller=path entries, a caller twice while its key rotates', () => {
    const [a, b, c] = ['a.pem', 'b.pem', 'c.pem'].map((name) => join(dir, name));
    writeFileSync(a as string, user.publicPem);
    writeFileSync(b as string, order.publicPem);
    writeFileSync(c as string, pemPair().publicPem);
    const trusted = readTrustedCallerKeys(`user=${a}, order=${b},user=${c}`);
    expect([...trusted.keys()]).toEqual(['user', 'order']);
    expect(trusted.get('user')).toHaveLength(2);
  });

  it('names the variable and the entry that is wrong', () => {
    expect(() => readTrustedCallerKeys('/keys/user.pem')).toThrow(
      'TRUSTED_CALLER_KEY_FILES: "/keys/user.pem" must be caller=path/to/public-key.pem',
    );
    expect(() => readTrustedCallerKeys(`user=${join(dir, 'missing.pem')}`)).toThrow(
      /^TRUSTED_CALLER_KEY_FILES: cannot read .*missing\.pem/,
    );
    expect(() => readTrustedCallerKeys(' , ')).toThrow('TRUSTED_CALLER_KEY_FILES: names no caller');
  });

  it('refuses a key that cannot sign ES256', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(() => ServiceTokenVerifier.fromPem('payment', new Map([['user', [pem]]]))).toThrow(
      'the service key of user must be an EC P-256 (ES256) key',
    );
  });
});
