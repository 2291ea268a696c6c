import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InterceptingCall, type Interceptor, Metadata, status } from '@grpc/grpc-js';
import type { CallerAuthorizer, RequestBinding, ServiceCaller } from '@ordermesh/grpc';
import { AppError, permissionDenied } from '@ordermesh/runtime';
import { decodeJwt, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import { expectEs256Key } from './user-tokens.js';

/**
 * Caller identity between services without the mesh.
 *
 * In the cluster, Istio's mutual TLS proves which workload is calling and the
 * AuthorizationPolicies in mesh/ decide what it may call. Outside the mesh
 * (local runs, tests, a sidecar that was left out) nothing would, so each
 * calling service also signs a short-lived ES256 service token (iss = sub =
 * the caller, aud = the callee) that the callee verifies against the public
 * keys it trusts, then checks the method against its allowlist. In the mesh
 * the token is defence in depth: a workload that gets past the mesh still
 * needs a caller's private key.
 */

/** The metadata key of the service token; not `authorization`, which carries the end user's token. */
export const SERVICE_TOKEN_METADATA = 'x-ordermesh-service-token';

const ALGORITHM = 'ES256';
/** A distinct type, so no other JWT (an end user's access token) can pass as a service token. */
const TOKEN_TYPE = 'ordermesh-service+jwt';
const TOKEN_TTL_SECONDS = 60;
/** A cached token is replaced once less than this is left, so it never expires in flight. */
const RENEW_BEFORE_SECONDS = 20;
/** Tokens older than this are refused whatever their exp says, so a caller cannot mint long-lived ones. */
const MAX_TOKEN_AGE_SECONDS = 2 * TOKEN_TTL_SECONDS;
const CLOCK_LEEWAY_SECONDS = 10;
/** Verified tokens remembered per verifier: a few per calling replica is all it takes. */
const VERIFIED_CACHE_SIZE = 1024;

const INVALID = 'missing, invalid or expired service credentials';
const invalidServiceToken = () => new AppError(status.UNAUTHENTICATED, INVALID);

/** Signs this service's tokens for the services it calls, caching one per callee. */
export class ServiceTokenSigner {
  private readonly cache = new Map<string, { token: Promise<string>; renewAt: number }>();

  private constructor(
    readonly caller: string,
    private readonly privateKey: KeyObject,
    private readonly now: () => number,
  ) {}

  static fromPem(caller: string, privateKeyPem: string, now: () => number = Date.now): ServiceTokenSigner {
    return new ServiceTokenSigner(
      caller,
      expectEs256Key(createPrivateKey(privateKeyPem), `${caller}'s service key`),
      now,
    );
  }

  /** A token for calls to `audience`; the same one until it nears its expiry. */
  token(audience: string): Promise<string> {
    const cached = this.cache.get(audience);
    if (cached && this.now() < cached.renewAt) return cached.token;
    const issuedAt = Math.floor(this.now() / 1000);
    const token = this.sign(audience, issuedAt);
    this.cache.set(audience, { token, renewAt: (issuedAt + TOKEN_TTL_SECONDS - RENEW_BEFORE_SECONDS) * 1000 });
    // A failed signing is not cached: the next call tries again.
    token.catch(() => this.cache.delete(audience));
    return token;
  }

  /** A token for one call only, vouching for `binding`. Never cached. */
  boundToken(audience: string, binding: RequestBinding): Promise<string> {
    return this.sign(audience, Math.floor(this.now() / 1000), binding);
  }

  /** Call metadata with a token for `audience`, bound to one request when `binding` is given; the interceptor leaves it in place. */
  async metadata(audience: string, binding?: RequestBinding): Promise<Metadata> {
    const metadata = new Metadata();
    const token = binding ? await this.boundToken(audience, binding) : await this.token(audience);
    metadata.set(SERVICE_TOKEN_METADATA, token);
    return metadata;
  }

  /** Adds this service's token for `audience` to every call that does not carry one already. */
  interceptor(audience: string): Interceptor {
    return (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          if (metadata.get(SERVICE_TOKEN_METADATA).length > 0) return next(metadata, listener);
          // grpc-js holds the request message back until next() is called.
          this.token(audience).then(
            (token) => {
              metadata.set(SERVICE_TOKEN_METADATA, token);
              next(metadata, listener);
            },
            // Without a token the callee answers UNAUTHENTICATED, which is the truth.
            () => next(metadata, listener),
          );
        },
      });
  }

  private sign(audience: string, issuedAt: number, binding?: RequestBinding): Promise<string> {
    return new SignJWT(binding ? { req: binding } : {})
      .setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE })
      .setIssuer(this.caller)
      .setSubject(this.caller)
      .setAudience(audience)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + TOKEN_TTL_SECONDS)
      .sign(this.privateKey);
  }
}

/** Verifies the service tokens sent to one service (`audience`) against the callers' public keys. */
export class ServiceTokenVerifier {
  /** Plain (unbound) tokens already verified, until they lapse: a caller reuses one for ~40 s. */
  private readonly verified: LRUCache<string, ServiceCaller>;

  private constructor(
    private readonly audience: string,
    private readonly keysByCaller: ReadonlyMap<string, readonly KeyObject[]>,
    private readonly now: () => number,
  ) {
    this.verified = new LRUCache({
      max: VERIFIED_CACHE_SIZE,
      // Read the clock on every get, not once per millisecond, so no entry is served past its ttl.
      ttlResolution: 0,
      // lru-cache takes an entry stored at time 0 to never expire: shifted, so a clock starting at 0 works too.
      perf: { now: () => now() + 1 },
    });
  }

  /** `trusted` maps a caller's name to its public keys (two while its key rotates). */
  static fromPem(
    audience: string,
    trusted: ReadonlyMap<string, readonly string[]>,
    now: () => number = Date.now,
  ): ServiceTokenVerifier {
    const keys = new Map(
      [...trusted].map(([caller, pems]) => [
        caller,
        pems.map((pem) => expectEs256Key(createPublicKey(pem), `the service key of ${caller}`)),
      ]),
    );
    return new ServiceTokenVerifier(audience, keys, now);
  }

  /** The verified caller of a call. Every failure is the same UNAUTHENTICATED, so it tells a prober nothing. */
  async verify(metadata: Metadata): Promise<ServiceCaller> {
    const values = metadata.get(SERVICE_TOKEN_METADATA);
    const token = values.length === 1 ? values[0] : undefined;
    if (typeof token !== 'string') throw invalidServiceToken();
    const known = this.verified.get(token);
    if (known) return known;
    let claimedCaller: unknown;
    try {
      claimedCaller = decodeJwt(token).iss;
    } catch {
      throw invalidServiceToken();
    }
    // The unverified issuer only chooses which keys to try; the signature decides.
    const keys = typeof claimedCaller === 'string' ? this.keysByCaller.get(claimedCaller) : undefined;
    if (!keys || typeof claimedCaller !== 'string') throw invalidServiceToken();
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: [ALGORITHM],
          typ: TOKEN_TYPE,
          issuer: claimedCaller,
          subject: claimedCaller,
          audience: this.audience,
          requiredClaims: ['exp', 'iat'],
          maxTokenAge: MAX_TOKEN_AGE_SECONDS,
          clockTolerance: CLOCK_LEEWAY_SECONDS,
          currentDate: new Date(this.now()),
        });
        const binding = parseBinding(payload.req);
        if (binding) return { name: claimedCaller, binding };
        const caller = { name: claimedCaller };
        // exp and iat were checked just now, so both are numbers.
        const lapses = Math.min(payload.exp as number, (payload.iat as number) + MAX_TOKEN_AGE_SECONDS);
        // lru-cache still serves an entry whose age equals its ttl, so one ms less makes it lapse when
        // jose starts refusing the token; a ttl of 0 would mean "never expires", so it is not stored then.
        const ttl = (lapses + CLOCK_LEEWAY_SECONDS) * 1000 - this.now() - 1;
        if (ttl > 0) this.verified.set(token, caller, { ttl });
        return caller;
      } catch {
        // try the caller's next key
      }
    }
    throw invalidServiceToken();
  }
}

function parseBinding(claim: unknown): RequestBinding | undefined {
  if (claim === undefined) return undefined;
  const valid =
    typeof claim === 'object' &&
    claim !== null &&
    !Array.isArray(claim) &&
    Object.values(claim).every((value) => typeof value === 'string' || typeof value === 'number');
  if (!valid) throw invalidServiceToken();
  return claim as RequestBinding;
}

/**
 * Allows each method to the callers named for it, mirroring the mesh's
 * AuthorizationPolicy. `allowed` must name every method, so a new RPC cannot
 * be added without deciding who may call it.
 */
export function allowCallers<Method extends string>(
  verifier: ServiceTokenVerifier,
  allowed: Readonly<Record<Method, readonly string[]>>,
): CallerAuthorizer<Method> {
  return async (method, metadata) => {
    const caller = await verifier.verify(metadata);
    if (!allowed[method]?.includes(caller.name)) {
      throw permissionDenied(`service ${caller.name} may not call ${method}`);
    }
    return caller;
  };
}

/**
 * Reads `TRUSTED_CALLER_KEY_FILES`: comma-separated `caller=path` entries of
 * PEM public keys. A caller may appear twice while its key rotates.
 */
export function readTrustedCallerKeys(list: string, variable = 'TRUSTED_CALLER_KEY_FILES'): Map<string, string[]> {
  const trusted = new Map<string, string[]>();
  for (const entry of list
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([a-z][a-z0-9-]*)=(.+)$/.exec(entry);
    if (!match?.[1] || !match[2]) throw new Error(`${variable}: "${entry}" must be caller=path/to/public-key.pem`);
    const [, caller, path] = match;
    let pem: string;
    try {
      pem = readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`${variable}: cannot read ${path}: ${(error as Error).message}`);
    }
    trusted.set(caller, [...(trusted.get(caller) ?? []), pem]);
  }
  if (trusted.size === 0) throw new Error(`${variable}: names no caller`);
  return trusted;
}

/** Reads the PEM private key this service signs its service tokens with. */
export function readServiceKey(path: string, variable = 'SERVICE_IDENTITY_KEY_FILE'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${variable}: cannot read ${path}: ${(error as Error).message}`);
  }
}

/** The fields of `request` that `binding` does not vouch for with the same value; empty when they all match. */
export function unboundFields(binding: RequestBinding, request: RequestBinding): string[] {
  return Object.keys(request).filter((field) => binding[field] !== request[field]);
}
