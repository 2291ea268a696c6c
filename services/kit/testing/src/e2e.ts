import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { type ReceivedMail, startMailSink } from '@ordermesh/dev/mail-sink';
import {
  databaseUrl,
  migrateDatabases,
  Platform,
  type PlatformSettings,
  SERVICE_NAMES,
  type ServiceName,
} from '@ordermesh/dev/platform';
import { NotificationServiceClient } from '@ordermesh/proto/notification';
import { UserServiceClient } from '@ordermesh/proto/user';
import { connect } from 'amqplib';
import { dropDatabases } from './databases.ts';
import { call } from './grpc.ts';
import { TcpProxy } from './tcp-proxy.ts';

export const DECLINED_CARD = '4000000000000002';
export const GOOD_CARD = '4242424242424242';

/**
 * A whole platform for an end-to-end suite: the four services as processes
 * on their own ports, databases, exchange and queue, with RabbitMQ and Redis
 * reached through proxies the suite can cut, and a mail sink that records
 * every email NotificationService sends.
 */
export async function startE2E(suite: string, grpcBasePort: number) {
  const tag = `${suite}_${process.pid}`;
  const mail: ReceivedMail[] = [];
  const sink = await startMailSink(0, (message) => mail.push(message));
  const amqp = new TcpProxy(5672);
  const redis = new TcpProxy(6379);
  await amqp.start();
  await redis.start();
  const exchange = `ordermesh.test.${tag}`;
  const queue = `notification.test.${tag}`;
  const fast = { SETTLEMENT_INTERVAL_MS: '200', SETTLEMENT_RETRY_MS: '500', PAYMENT_TIMEOUT_MS: '1500' };
  const settings: PlatformSettings = {
    databaseSuffix: `_e2e_${suite}`,
    grpcBasePort,
    jwksPort: grpcBasePort + 81,
    stateDir: join(tmpdir(), `ordermesh-${tag}`),
    smtpUrl: `smtp://127.0.0.1:${sink.port}`,
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqp.port}`,
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    env: {
      user: {
        EVENTS_EXCHANGE: exchange,
        PASSWORD_SCRYPT_LOG_N: '12',
        // Suites fail logins on purpose, all from 127.0.0.1, and rerun within a throttle window: out of
        // their way. tests/security/limits.test.ts runs UserService with small limits to test the throttle.
        LOGIN_THROTTLE_PER_ACCOUNT: '10000',
        LOGIN_THROTTLE_PER_SOURCE: '1000000',
      },
      order: { EVENTS_EXCHANGE: exchange, ...fast },
      payment: { EVENTS_EXCHANGE: exchange },
      notification: {
        EVENTS_EXCHANGE: exchange,
        NOTIFICATION_QUEUE: queue,
        NOTIFICATION_RETRY_DELAYS_MS: '300,600,1200',
      },
    },
  };
  await dropDatabases(SERVICE_NAMES.map((name) => `ordermesh_${name}${settings.databaseSuffix}`));
  await migrateDatabases(settings);
  const platform = new Platform(settings);
  try {
    await platform.start();
  } catch (error) {
    // Leave nothing running (a stray process or socket also keeps jest from exiting).
    await Promise.all([amqp.stop(), redis.stop(), sink.close()]);
    throw error;
  }
  const users = new UserServiceClient(platform.address('user'), credentials.createInsecure());
  const notifications = new NotificationServiceClient(platform.address('notification'), credentials.createInsecure());

  /** Registers and logs in a new user with a card on file. */
  async function signUp(card = GOOD_CARD) {
    const email = `${randomUUID()}@example.com`;
    const password = 'a long enough password';
    const { user } = await call(users.register.bind(users), {
      idempotencyKey: randomUUID(),
      email,
      password,
      displayName: 'Test User',
    });
    const { accessToken } = await call(users.login.bind(users), { email, password });
    const { paymentMethod } = await call(
      users.addPaymentMethod.bind(users),
      { idempotencyKey: randomUUID(), cardNumber: card, expMonth: 12, expYear: 2031, holderName: 'Test User' },
      accessToken,
    );
    return { userId: user?.id ?? '', email, token: accessToken, cardId: paymentMethod?.id ?? '' };
  }

  return {
    platform,
    settings,
    mail,
    proxies: { amqp, redis },
    users,
    notifications,
    signUp,
    databaseUrl: (name: ServiceName) => databaseUrl(settings, name),
    /** Emails to one address, by subject. */
    mailTo: (email: string) => mail.filter((m) => m.to.includes(email)).map((m) => m.subject),
    async close() {
      users.close();
      notifications.close();
      await platform.stop();
      await Promise.all([amqp.stop(), redis.stop(), sink.close()]);
      await deleteBrokerObjects(exchange, queue);
      rmSync(settings.stateDir, { recursive: true, force: true });
    },
  };
}

export type E2E = Awaited<ReturnType<typeof startE2E>>;

async function deleteBrokerObjects(exchange: string, queue: string): Promise<void> {
  const connection = await connect('amqp://guest:guest@127.0.0.1:5672');
  const channel = await connection.createChannel();
  for (const name of [
    queue,
    `${queue}.dead`,
    `${exchange}.unrouted`,
    ...[300, 600, 1200].map((d) => `${queue}.retry.${d}ms`),
  ]) {
    await channel.deleteQueue(name);
  }
  for (const name of [exchange, `${exchange}.unrouted`, `${queue}.dlx`]) await channel.deleteExchange(name);
  await connection.close();
}
