import { startGrpcServer } from '@ordermesh/grpc';
import { readPemFiles, TokenVerifier } from '@ordermesh/identity';
import { EventConsumer } from '@ordermesh/messaging';
import { createLogger, type ShutdownStep, telemetryShutdownStep } from '@ordermesh/runtime';
import { connectDatabase } from '@ordermesh/storage';
import { LogChannel, type NotificationChannel, SmtpChannel } from './channels.js';
import type { NotificationConfig } from './config.js';
import { observedChannel } from './delivery-telemetry.js';
import { notificationService } from './handlers.js';
import { NOTIFIED_EVENTS, readEvent } from './incoming-events.js';
import { Notifications } from './notifications.js';
import { DELIVERY_TRANSACTION_IDLE_MS, NOTIFICATION_POOL_SIZE, PostgresNotificationStore } from './store.js';

/** Wires NotificationService and starts it. Returns the bound port and the ordered shutdown steps. */
export async function startNotificationService(config: NotificationConfig) {
  const log = createLogger('notification', config.LOG_LEVEL);
  const pool = connectDatabase(config.DATABASE_URL, {
    max: NOTIFICATION_POOL_SIZE,
    maxTransactionIdleMs: DELIVERY_TRANSACTION_IDLE_MS,
  });
  const channel: NotificationChannel = observedChannel(
    config.NOTIFICATION_CHANNEL === 'smtp'
      ? new SmtpChannel(config.SMTP_URL, config.MAIL_FROM, config.NOTIFICATION_PREFETCH)
      : new LogChannel(log),
  );
  const notifications = new Notifications(new PostgresNotificationStore(pool), channel, log);
  const verifier = TokenVerifier.fromPem(readPemFiles(config.JWT_PUBLIC_KEY_FILE), {
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const consumer = new EventConsumer(config.AMQP_URL, log, {
    queue: config.NOTIFICATION_QUEUE,
    exchange: config.EVENTS_EXCHANGE,
    bindings: NOTIFIED_EVENTS,
    prefetch: config.NOTIFICATION_PREFETCH,
    retryDelaysMs: config.NOTIFICATION_RETRY_DELAYS_MS,
    handler: (message) => notifications.notify(readEvent(message)),
  });
  const server = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GRPC_PORT,
    services: [notificationService(notifications, verifier, log)],
    log,
  });
  // Not ready until the queue exists and is bound: events published before that would not reach it.
  server.health.setStatus('', 'NOT_SERVING');
  await consumer.start();
  void consumer.consuming.then(() => server.health.setStatus('', 'SERVING'));
  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc server', run: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
    { name: 'event consumer', run: () => consumer.stop(config.SHUTDOWN_GRACE_MS) },
    { name: 'mail channel', run: () => channel.close() },
    { name: 'database', run: () => pool.end() },
    // Last, so the spans of the shutdown itself are exported too.
    telemetryShutdownStep(),
  ];
  return { port: server.port, log, shutdownSteps };
}
