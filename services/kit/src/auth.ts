import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Metadata } from '@grpc/grpc-js';
import { calculateJwkThumbprint, exportJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { unauthenticated } from './errors.js';

const ALGORITHM = 'ES256';

export interface TokenSettings {
  issuer: string;
  audience: string;
}

export interface AccessToken {
  token: string;
  expiresAt: Date;
}

async function publicJwk(key: KeyObject): Promise<JWK & { kid: string }> {
  const jwk = await exportJWK(key);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: ALGORITHM, use: 'sig' };
}

/**
 * Signs access tokens with an ES256 private key. The public half is published
 * as a JWKS so the mesh ingress (Istio RequestAuthentication) and other
 * services can verify tokens without the secret.
 */
export class TokenIssuer {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly keyId: string,
    private readonly publicKeys: JWK[],
    private readonly settings: TokenSettings & { ttlSeconds: number },
  ) {}

  static async fromPem(privateKeyPem: string, settings: TokenSettings & { ttlSeconds: number }): Promise<TokenIssuer> {
    const privateKey = createPrivateKey(privateKeyPem);
    const jwk = await publicJwk(createPublicKey(privateKey));
    return new TokenIssuer(privateKey, jwk.kid, [jwk], settings);
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
    return { keys: this.publicKeys };
  }
}

/** Verifies access tokens against one or more public keys (more than one while keys rotate). */
export class TokenVerifier {
  private constructor(
    private readonly keys: KeyObject[],
    private readonly settings: TokenSettings,
  ) {}

  static fromPem(publicKeyPems: readonly string[], settings: TokenSettings): TokenVerifier {
    return new TokenVerifier(
      publicKeyPems.map((pem) => createPublicKey(pem)),
      settings,
    );
  }

  /** Returns the user id of a valid token. Any failure is the same UNAUTHENTICATED, so it tells an attacker nothing. */
  async verify(token: string): Promise<string> {
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          issuer: this.settings.issuer,
          audience: this.settings.audience,
          requiredClaims: ['sub', 'exp', 'iat'],
        });
        if (payload.sub) return payload.sub;
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
