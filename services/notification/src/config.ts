import { commonConfigShape, env, loadConfig } from '@ordermesh/runtime';
import { z } from 'zod';

/** Each delay names a retry queue (`<queue>.retry.<ms>ms`), so only positive whole numbers make sense. */
const retryDelays = z
  .string()
  .default('1000,5000,30000')
  .transform((list) => list.split(',').map((delay) => delay.trim()))
  .refine((delays) => delays.every((delay) => /^[1-9]\d{0,7}$/.test(delay)), {
    error: 'must be comma-separated milliseconds such as 1000,5000,30000',
  })
  .transform((delays) => delays.map(Number));

export const configShape = {
  ...commonConfigShape,
  GRPC_PORT: env.port(50054),
  DATABASE_URL: env.postgresUrl('ordermesh_notification'),
  AMQP_URL: env.amqpUrl(),
  /** Tests set their own so that they do not steal events from a running instance. */
  NOTIFICATION_QUEUE: env.text('notification.events'),
  /**
   * Events in flight at once, each holding a transaction across its SMTP send. At 16 the consumer
   * fell behind PlaceOrder at 64 calls in flight (the sends wait on round trips, not on CPU);
   * 32 keeps up (docs/performance.md). The database pool holds 4 connections more than this.
   */
  NOTIFICATION_PREFETCH: env.integer(1, 1_000, 32),
  NOTIFICATION_RETRY_DELAYS_MS: retryDelays,
  NOTIFICATION_CHANNEL: z.enum(['smtp', 'log']).default('smtp'),
  SMTP_URL: env.url(['smtp', 'smtps'], 'smtp://127.0.0.1:2525'),
  MAIL_FROM: env.text('ordermesh <no-reply@ordermesh.local>'),
  /** Comma-separated PEM files; more than one while signing keys rotate. */
  JWT_PUBLIC_KEY_FILE: env.requiredText(),
  JWT_ISSUER: env.text('ordermesh-user'),
  JWT_AUDIENCE: env.text('ordermesh'),
};

export type NotificationConfig = ReturnType<typeof loadNotificationConfig>;
export const loadNotificationConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(configShape, source);
