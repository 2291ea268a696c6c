import { readFileSync } from 'node:fs';
import { commonConfigShape, env, loadConfig } from '@ordermesh/kit';

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
  JWT_ISSUER: env.text('ordermesh-user'),
  JWT_AUDIENCE: env.text('ordermesh'),
  JWT_TTL_SECONDS: env.integer(60, 86_400, 3_600),
  /** log2 of scrypt's cost N; 17 is OWASP's recommended minimum. */
  PASSWORD_SCRYPT_LOG_N: env.integer(10, 20, 17),
  PROFILE_CACHE_TTL_SECONDS: env.integer(1, 86_400, 300),
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
