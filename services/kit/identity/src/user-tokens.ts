import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { UUID } from '@ordermesh/grpc';
import { unauthenticated } from '@ordermesh/runtime';
import { calculateJwkThumbprint, exportJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';

const ALGORITHM = 'ES256';

export interface TokenSettings {
  issuer: string;
  audience: string;
}

export interface AccessToken {
  token: string;
  expiresAt: Date;
}

/** Throws unless `key` is a P-256 key, the only curve ES256 signs with. */
export function expectEs256Key(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(`${what} must be an EC P-256 (ES256) key`);
  }
  return key;
}

async function publicJwk(key: KeyObject): Promise<JWK & { kid: string }> {
  const jwk = await exportJWK(key);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ALGORITHM, use: 'sig' };
}

/**
 * Signs access tokens with an ES256 private key. The public half is published
 * as a JWKS so the mesh ingress (Istio RequestAuthentication) and other
 * services can verify tokens without the secret. While the key rotates, more
 * public keys are published in the JWKS (each with its own kid) and accepted:
 * the next key, so verifiers that cache the JWKS know it before it signs, and
 * the previous one, so tokens signed before the switch verify until they expire.
 */
export class TokenIssuer {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly keyId: string,
    private readonly publicKeys: { key: KeyObject; jwk: JWK & { kid: string } }[],
    private readonly settings: TokenSettings & { ttlSeconds: number },
  ) {}

  /** `extraPublicKeyPems`: keys to publish and accept besides the signing key's (the next or the previous one). */
  static async fromPem(
    privateKeyPem: string,
    settings: TokenSettings & { ttlSeconds: number },
    extraPublicKeyPems: readonly string[] = [],
  ): Promise<TokenIssuer> {
    const privateKey = expectEs256Key(createPrivateKey(privateKeyPem), 'the token signing key');
    const publicKeys = [
      createPublicKey(privateKey),
      ...extraPublicKeyPems.map((pem) => expectEs256Key(createPublicKey(pem), 'an extra token key')),
    ];
    const keys = await Promise.all(publicKeys.map(async (key) => ({ key, jwk: await publicJwk(key) })));
    // The same key listed twice (a rotation half undone) would publish a duplicate kid.
    const distinct = keys.filter((key, index) => keys.findIndex((k) => k.jwk.kid === key.jwk.kid) === index);
    return new TokenIssuer(privateKey, keys[0]?.jwk.kid ?? '', distinct, settings);
  }

  async issue(userId: string): Promise<AccessToken> {
    const expiresAt = new Date((Math.floor(Date.now() / 1000) + this.settings.ttlSeconds) * 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, kid: this.keyId, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.privateKey);
    return { token, expiresAt };
  }

  /** The JSON Web Key Set with the public keys that verify this issuer's tokens. */
  jwks(): { keys: JWK[] } {
    return { keys: this.publicKeys.map(({ jwk }) => jwk) };
  }

  /** A verifier that accepts exactly the keys this issuer publishes. */
  verifier(): TokenVerifier {
    return new TokenVerifier(
      this.publicKeys.map(({ key }) => key),
      this.settings,
    );
  }
}

/** Clock skew between the issuer and a verifier that exp, nbf and iat are allowed. */
const CLOCK_LEEWAY_SECONDS = 30;
/** No token is older than the longest TTL UserService may be configured with; a future iat fails this too. */
const MAX_TOKEN_AGE_SECONDS = 86_400;
/** How many verified access tokens a process remembers, and for how long at most. */
const VERIFIED_ACCESS_TOKENS = 10_000;
const VERIFIED_ACCESS_TOKEN_MS = 60_000;

/** Verifies access tokens against one or more public keys (more than one while keys rotate). */
export class TokenVerifier {
  /**
   * A client sends the same access token on every call until it expires;
   * remembered for at most a minute, so a key taken out of rotation stops
   * working within a minute even in a running process. Bounded, so many
   * distinct tokens cannot grow it without limit; only a token that verified
   * is stored, keyed by all of it, so a forged one never hits.
   */
  private readonly verified = new LRUCache<string, string>({
    max: VERIFIED_ACCESS_TOKENS,
    // Read the clock on every get, not once per millisecond, so no entry is served past its ttl.
    ttlResolution: 0,
    // The lapse times below are wall-clock (exp, iat): measure them with the same clock.
    perf: { now: () => Date.now() },
  });

  constructor(
    private readonly keys: KeyObject[],
    private readonly settings: TokenSettings,
  ) {}

  static fromPem(publicKeyPems: readonly string[], settings: TokenSettings): TokenVerifier {
    return new TokenVerifier(
      publicKeyPems.map((pem) => createPublicKey(pem)),
      settings,
    );
  }

  /**
   * Returns the user id of a valid token. Any failure (format, algorithm,
   * signature, issuer, audience, expiry, not-before, issued-at, a subject that
   * is not a UUID) is the same
   * UNAUTHENTICATED with the same message, so it tells an attacker nothing.
   */
  async verify(token: string): Promise<string> {
    const known = this.verified.get(token);
    if (known) return known;
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          // Only ES256: `none` and HS256 keyed with the public key (algorithm confusion) are refused here.
          algorithms: [ALGORITHM],
          issuer: this.settings.issuer,
          audience: this.settings.audience,
          requiredClaims: ['sub', 'exp', 'iat'],
          clockTolerance: CLOCK_LEEWAY_SECONDS,
          maxTokenAge: MAX_TOKEN_AGE_SECONDS,
        });
        // Every user id is a UUID: any other subject, even one signed with our key, would reach the
        // database as a malformed id (an INTERNAL error) instead of being refused here.
        if (typeof payload.sub === 'string' && UUID.test(payload.sub)) {
          // exp and iat are required claims, so both are numbers here.
          const lapses = Math.min(payload.exp as number, (payload.iat as number) + MAX_TOKEN_AGE_SECONDS) * 1000;
          // lru-cache still serves an entry whose age equals its ttl, so one ms less makes it lapse at
          // `lapses`, not after; a ttl of 0 would mean "never expires", so such a token is not stored.
          const ttl = Math.min(lapses - Date.now(), VERIFIED_ACCESS_TOKEN_MS) - 1;
          if (ttl > 0) this.verified.set(token, payload.sub, { ttl });
          return payload.sub;
        }
      } catch {
        // try the next key
      }
    }
    throw unauthenticated();
  }

  /** Reads `authorization: Bearer <token>` from call metadata and verifies it. */
  async authenticate(metadata: Metadata): Promise<string> {
    const header = metadata.get('authorization')[0];
    const match = typeof header === 'string' ? /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(header) : null;
    if (!match?.[1]) throw unauthenticated();
    return this.verify(match[1]);
  }
}

/** Reads PEM files named in a comma-separated list (so a rotation can list the old and new key). */
export function readPemFiles(paths: string): string[] {
  return paths
    .split(',')
    .map((path) => path.trim())
    .filter(Boolean)
    .map((path) => readFileSync(path, 'utf8'));
}
