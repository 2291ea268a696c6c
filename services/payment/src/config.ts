import { commonConfigShape, env, loadConfig } from '@ordermesh/runtime';
import { z } from 'zod';

export const configShape = {
  ...commonConfigShape,
  GRPC_PORT: env.port(50053),
  DATABASE_URL: env.postgresUrl('ordermesh_payment'),
  AMQP_URL: env.amqpUrl(),
  PAYMENT_SIM_LATENCY_MS: env.milliseconds(20),
  /** Comma-separated card numbers the simulated provider always declines. */
  PAYMENT_SIM_DECLINED_CARDS: z
    .string()
    .default('4000000000000002')
    .transform(
      (list) =>
        new Set(
          list
            .split(',')
            .map((card) => card.trim())
            .filter(Boolean),
        ),
    ),
  PAYMENT_SIM_LIMIT_MINOR: env.integer(1, Number.MAX_SAFE_INTEGER, 1_000_000),
  /** Public keys of the services allowed to call this one: comma-separated `caller=path.pem` (UserService, OrderService). */
  TRUSTED_CALLER_KEY_FILES: env.requiredText(),
};

export type PaymentConfig = ReturnType<typeof loadPaymentConfig>;
export const loadPaymentConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(configShape, source);
