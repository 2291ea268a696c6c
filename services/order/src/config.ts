import { commonConfigShape, env, loadConfig } from '@ordermesh/runtime';

export const configShape = {
  ...commonConfigShape,
  GRPC_PORT: env.port(50052),
  DATABASE_URL: env.postgresUrl('ordermesh_order'),
  REDIS_URL: env.redisUrl(),
  AMQP_URL: env.amqpUrl(),
  PAYMENT_SERVICE_ADDR: env.grpcTarget('127.0.0.1:50053'),
  /** How long CreateOrder waits for the charge before answering PENDING_PAYMENT. */
  PAYMENT_TIMEOUT_MS: env.milliseconds(2_500),
  SETTLEMENT_INTERVAL_MS: env.milliseconds(1_000),
  /** Wait before the settlement worker retries a charge that could not be made. */
  SETTLEMENT_RETRY_MS: env.milliseconds(5_000),
  ORDER_CACHE_TTL_SECONDS: env.integer(1, 86_400, 300),
  /** Private key (PEM, ES256) this service signs its service tokens to PaymentService with. */
  SERVICE_IDENTITY_KEY_FILE: env.requiredText(),
  /** Public keys of the services allowed to call this one: comma-separated `caller=path.pem` (UserService). */
  TRUSTED_CALLER_KEY_FILES: env.requiredText(),
};

export type OrderConfig = ReturnType<typeof loadOrderConfig>;
export const loadOrderConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(configShape, source);
