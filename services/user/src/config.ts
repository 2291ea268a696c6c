import { readFileSync } from 'node:fs';
import { readPemFiles } from '@ordermesh/identity';
import { commonConfigShape, env, loadConfig } from '@ordermesh/runtime';
import { z } from 'zod';

export const configShape = {
  ...commonConfigShape,
  GRPC_PORT: env.port(50051),
  /** Serves the JWKS (public keys of the access tokens) for the mesh ingress. 0 turns it off. */
  JWKS_PORT: env.integer(0, 65535, 8081),
  DATABASE_URL: env.postgresUrl('ordermesh_user'),
  REDIS_URL: env.redisUrl(),
  AMQP_URL: env.amqpUrl(),
  ORDER_SERVICE_ADDR: env.grpcTarget('127.0.0.1:50052'),
  PAYMENT_SERVICE_ADDR: env.grpcTarget('127.0.0.1:50053'),
  /** Deadline of calls to OrderService and PaymentService: above what OrderService may take, its own call to PaymentService with mesh retries included. */
  DOWNSTREAM_TIMEOUT_MS: env.milliseconds(8_000),
  JWT_PRIVATE_KEY_FILE: env.requiredText(),
  /**
   * While the signing key rotates: more public keys (comma-separated PEM files) to accept and publish in
   * the JWKS besides the signing key's: the next key before it signs, the previous one until its tokens expire.
   */
  JWT_EXTRA_PUBLIC_KEY_FILES: z.string().default(''),
  /** Private key (PEM, ES256) this service signs its service tokens to OrderService and PaymentService with. */
  SERVICE_IDENTITY_KEY_FILE: env.requiredText(),
  JWT_ISSUER: env.text('ordermesh-user'),
  JWT_AUDIENCE: env.text('ordermesh'),
  JWT_TTL_SECONDS: env.integer(60, 86_400, 3_600),
  /**
   * log2 of scrypt's cost N (memory 128·8·N bytes per hash). The parallelism p follows
   * OWASP's table of equal strength (17 → 1, 15 → 3, …), so 15 is as strong as 2^17 with
   * p = 1 at a quarter of the memory (32 MiB per hash; see docs/performance.md).
   */
  PASSWORD_SCRYPT_LOG_N: env.integer(10, 20, 15),
  PROFILE_CACHE_TTL_SECONDS: env.integer(1, 86_400, 300),
  /** Failed logins allowed per account, and per client address, in each fixed window (see docs/security.md). */
  LOGIN_THROTTLE_PER_ACCOUNT: env.integer(1, 10_000, 10),
  LOGIN_THROTTLE_PER_SOURCE: env.integer(1, 1_000_000, 100),
  LOGIN_THROTTLE_WINDOW_SECONDS: env.integer(1, 86_400, 900),
  /** Where the client address comes from; a header only behind an ingress that sets it (never trust it otherwise). */
  LOGIN_CLIENT_ADDRESS_FROM: z
    .enum(['peer', 'x-envoy-external-address', 'x-forwarded-for'], {
      error: 'must be peer, x-envoy-external-address or x-forwarded-for',
    })
    .default('peer'),
};

export type UserConfig = ReturnType<typeof loadUserConfig>;
export const loadUserConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(configShape, source);

export function readPrivateKey(config: UserConfig): string {
  try {
    return readFileSync(config.JWT_PRIVATE_KEY_FILE, 'utf8');
  } catch (error) {
    throw new Error(`JWT_PRIVATE_KEY_FILE: cannot read ${config.JWT_PRIVATE_KEY_FILE}: ${(error as Error).message}`);
  }
}

export function readExtraPublicKeys(config: UserConfig): string[] {
  try {
    return readPemFiles(config.JWT_EXTRA_PUBLIC_KEY_FILES);
  } catch (error) {
    throw new Error(`JWT_EXTRA_PUBLIC_KEY_FILES: ${(error as Error).message}`);
  }
}
