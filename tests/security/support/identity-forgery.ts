import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/**
 * Hand-made JWTs for attacking a verifier: built with node:crypto rather than
 * a JWT library, so nothing refuses to produce `alg: none`, an HS256 token
 * keyed with a public key, or a signature over a payload that was changed.
 */

const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS signed with an ES256 key (raw r||s signature, as JOSE wants). */
export function es256(header: object, payload: object, key: KeyObject): string {
  const input = `${encode(header)}.${encode(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
}

/**
 * Every way an access token can be wrong, by name. `privateKeyPem` is the
 * real signing key, so only the named fault differs from a valid token; the
 * sub is a real user, so a verifier that skipped the check would answer for him.
 */
export function forgedAccessTokens(privateKeyPem: string, claims: AccessTokenClaims, nowSeconds = Date.now() / 1000) {
  const now = Math.floor(nowSeconds);
  const key = createPrivateKey(privateKeyPem);
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  const header = { alg: 'ES256', typ: 'JWT' };
  const valid = { ...claims, iat: now, nbf: now, exp: now + 600 };
  const signed = (payload: object, signingKey = key) => es256(header, payload, signingKey);
  const good = signed(valid);
  const [goodHeader, , goodSignature] = good.split('.');
  const hs256 = (secret: string | Buffer) => {
    const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(valid)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const strangerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;

  const tokens: Record<string, string> = {
    expired: signed({ ...valid, iat: now - 7200, nbf: now - 7200, exp: now - 3600 }),
    'not yet valid (nbf an hour ahead)': signed({ ...valid, nbf: now + 3600, exp: now + 7200 }),
    'issued in the future (iat an hour ahead)': signed({ ...valid, iat: now + 3600, exp: now + 7200 }),
    'older than any token UserService issues': signed({ ...valid, iat: now - 2 * 86_400, exp: now + 600 }),
    'wrong issuer': signed({ ...valid, iss: 'someone-else' }),
    'wrong audience': signed({ ...valid, aud: 'another-app' }),
    'no subject': signed({ iss: valid.iss, aud: valid.aud, iat: now, exp: now + 600 }),
    // Signed with the real key, so only the subject's form is wrong: every id in ordermesh is a UUID.
    'subject not a UUID': signed({ ...valid, sub: 'not-a-uuid' }),
    'subject a UUID with more after it': signed({ ...valid, sub: `${claims.sub}' OR '1'='1` }),
    'subject a number': signed({ ...valid, sub: 12345 }),
    'no expiry': signed({ ...claims, iat: now }),
    'signed by another key': signed(valid, strangerKey),
    'ES384 on a P-384 key': es384(valid, p384),
    'alg none, no signature': `${encode({ alg: 'none', typ: 'JWT' })}.${encode(valid)}.`,
    'alg none, with the valid signature': `${encode({ alg: 'none', typ: 'JWT' })}.${encode(valid)}.${goodSignature}`,
    'HS256 keyed with the public key PEM (algorithm confusion)': hs256(publicPem),
    'HS256 keyed with the public key DER': hs256(
      createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer,
    ),
    'tampered payload (another subject)': `${goodHeader}.${encode({ ...valid, sub: `${claims.sub}x` })}.${goodSignature}`,
    'tampered payload (later expiry)': `${goodHeader}.${encode({ ...valid, exp: now + 86_400 * 365 })}.${goodSignature}`,
    truncated: good.slice(0, -8),
    'signature removed': good.slice(0, good.lastIndexOf('.') + 1),
    'two parts only': good.split('.').slice(0, 2).join('.'),
    garbage: 'not.a.token',
    'random base64url': `${encode({ x: 1 })}.${Buffer.from('garbage').toString('base64url')}.AAAA`,
    'header not JSON': `${Buffer.from('{{{').toString('base64url')}.${encode(valid)}.${goodSignature}`,
  };
  return { good, tokens };

  function es384(payload: object, signingKey: KeyObject) {
    const input = `${encode({ alg: 'ES384', typ: 'JWT' })}.${encode(payload)}`;
    const signature = sign('sha384', Buffer.from(input), { key: signingKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  }
}

/** Authorization header values that are not a bearer token at all (the token itself is fine). */
export function malformedAuthorization(goodToken: string): Record<string, string | undefined> {
  return {
    'no authorization header': undefined,
    'empty header': '',
    'token without "Bearer "': goodToken,
    'Basic scheme': `Basic ${Buffer.from('user:password').toString('base64')}`,
    'Bearer with nothing after it': 'Bearer ',
    'two tokens': `Bearer ${goodToken} ${goodToken}`,
  };
}
