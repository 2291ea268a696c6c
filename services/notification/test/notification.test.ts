import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ReceivedMail, startMailSink } from '@ordermesh/dev/mail-sink';
import { TokenIssuer } from '@ordermesh/identity';
import { EventPublisher, type OutboxRecord, outboxRecord, queueNames } from '@ordermesh/messaging';
import {
  type ListMyNotificationsRequest,
  type ListMyNotificationsResponse,
  NotificationServiceClient,
} from '@ordermesh/proto/notification';
import { createLogger, type ShutdownStep } from '@ordermesh/runtime';
import {
  connectDatabaseUnderTest,
  createMigratedDatabase,
  type DatabaseUnderTest,
  eventually,
  untilConsuming,
} from '@ordermesh/testing';
import { type ChannelModel, connect } from 'amqplib';
import { startNotificationService } from '../src/app.js';
import { loadNotificationConfig } from '../src/config.js';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { PostgresNotificationStore } from '../src/store.js';

/** The test's SMTP server: every mail NotificationService sends, in arrival order. */
async function startSmtpSink() {
  const received: ReceivedMail[] = [];
  const sink = await startMailSink(0, (mail) => received.push(mail));
  return {
    url: `smtp://127.0.0.1:${sink.port}`,
    to: (address: string) => received.filter((mail) => mail.to.includes(address)),
    close: sink.close,
  };
}

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const runId = randomUUID().slice(0, 8);
// Its own exchange and queue, so the test never crosses a running instance.
const exchange = `ordermesh.test.${runId}`;
const queue = `notification.events.test.${runId}`;
const retryDelaysMs = [200, 1_000];

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
let db: InstanceType<typeof PrismaClient>;
let connections: DatabaseUnderTest<InstanceType<typeof PrismaClient>>;
let broker: ChannelModel;
let publisher: EventPublisher;
let client: NotificationServiceClient;
let issuer: TokenIssuer;
let keyDir: string;
let shutdownSteps: ShutdownStep[] = [];

const testLog = createLogger('notification-test', 'silent');

function newUser() {
  const userId = randomUUID();
  return { userId, email: `${userId}@example.test`, displayName: 'Test User' };
}

async function publish(...records: OutboxRecord[]): Promise<void> {
  await publisher.publish(
    records.map((record) => ({ ...record, payload: Buffer.from(record.payload), occurredAt: new Date() })),
  );
}

const registered = (user: ReturnType<typeof newUser>) =>
  outboxRecord('user.registered', { ...user, occurredAt: new Date() });

const placed = (userId: string, orderId = randomUUID()) =>
  outboxRecord('order.placed', {
    orderId,
    userId,
    itemCount: 2,
    total: { amountMinor: 2599, currency: 'USD' },
    occurredAt: new Date(),
  });

const subjects = (address: string) => smtp.to(address).map((mail) => mail.subject);

function listMyNotifications(request: Partial<ListMyNotificationsRequest>, token?: string) {
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise<ListMyNotificationsResponse>((resolve, reject) =>
    client.listMyNotifications({ pageSize: 0, pageToken: '', ...request }, metadata, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

beforeAll(async () => {
  [database, smtp] = await Promise.all([createMigratedDatabase('notification'), startSmtpSink()]);
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  keyDir = mkdtempSync(join(tmpdir(), 'notification-test-'));
  const publicKeyFile = join(keyDir, 'jwt-public.pem');
  writeFileSync(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
  // The issuer and audience the service's config defaults to.
  issuer = await TokenIssuer.fromPem(keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    issuer: 'ordermesh-user',
    audience: 'ordermesh',
    ttlSeconds: 300,
  });

  const config = loadNotificationConfig({
    LOG_LEVEL: 'silent',
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    EVENTS_EXCHANGE: exchange,
    DATABASE_URL: database.url,
    AMQP_URL,
    NOTIFICATION_QUEUE: queue,
    // One event at a time, so that an event published later is also handled later: a test
    // can wait for a later event's email to know that the earlier ones were dealt with.
    NOTIFICATION_PREFETCH: '1',
    NOTIFICATION_RETRY_DELAYS_MS: retryDelaysMs.join(','),
    SMTP_URL: smtp.url,
    JWT_PUBLIC_KEY_FILE: publicKeyFile,
  });
  const service = await startNotificationService(config);
  shutdownSteps = service.shutdownSteps;
  client = new NotificationServiceClient(`127.0.0.1:${service.port}`, credentials.createInsecure());
  connections = await connectDatabaseUnderTest(PrismaClient, database.url, { max: 2 });
  db = connections.db;
  broker = await connect(AMQP_URL);
  publisher = new EventPublisher(AMQP_URL, testLog, exchange);
  await untilConsuming(broker, queue);
}, 30_000);

afterAll(async () => {
  client?.close();
  for (const step of shutdownSteps) await step.run();
  if (broker) {
    const channel = await broker.createChannel();
    const names = queueNames(queue);
    for (const name of [names.queue, names.deadLetterQueue, ...retryDelaysMs.map(names.retryQueue)]) {
      await channel.deleteQueue(name);
    }
    await channel.deleteQueue(`${exchange}.unrouted`);
    for (const name of [names.deadLetterExchange, exchange, `${exchange}.unrouted`]) await channel.deleteExchange(name);
    await broker.close();
  }
  await publisher?.close();
  await connections?.close();
  await smtp?.close();
  await database?.drop();
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
}, 30_000);

describe('NotificationService', () => {
  it('sends one email per event and records each notification as SENT', async () => {
    const ada = newUser();
    const adaOrderId = randomUUID();
    const welcome = registered(ada);
    const order = placed(ada.userId, adaOrderId);
    await publish(welcome, order);

    await eventually('both emails', () => smtp.to(ada.email).length >= 2);
    const rows = await eventually('both rows SENT', async () => {
      const found = await db.notification.findMany({ where: { userId: ada.userId }, orderBy: { createdAt: 'asc' } });
      return found.length === 2 && found.every((row) => row.status === 'SENT') && found;
    });
    expect(rows.map((row) => [row.eventId, row.kind, row.channel, row.recipient])).toEqual([
      [welcome.eventId, 'user.registered', 'email', ada.email],
      [order.eventId, 'order.placed', 'email', ada.email],
    ]);
    expect(rows.every((row) => row.sentAt instanceof Date)).toBe(true);
    expect(subjects(ada.email)).toEqual(['Welcome to ordermesh', `Order ${adaOrderId} received`]);
    expect(smtp.to(ada.email)[1]?.text).toContain('$25.99');
    // Each email's Message-ID is its event's, the same on any attempt, so receivers can drop a resend.
    expect(smtp.to(ada.email).map((mail) => mail.messageId)).toEqual([
      `<${welcome.eventId}@ordermesh.local>`,
      `<${order.eventId}@ordermesh.local>`,
    ]);
  }, 20_000);

  it('sends an event delivered twice only once', async () => {
    const grace = newUser();
    await publish(registered(grace));
    await eventually('the welcome email', () => smtp.to(grace.email).length === 1);

    const order = placed(grace.userId);
    const cancelled = outboxRecord('order.cancelled', {
      orderId: randomUUID(),
      userId: grace.userId,
      refunded: false,
      occurredAt: new Date(),
    });
    // The same event twice, then another one: once its email is in, both copies have been handled.
    await publish(order, order, cancelled);
    await eventually('the email of the event after the duplicate', () =>
      subjects(grace.email).some((subject) => subject.endsWith('cancelled')),
    );

    expect(subjects(grace.email).filter((subject) => subject.endsWith('received'))).toHaveLength(1);
    expect(await db.notification.count({ where: { eventId: order.eventId } })).toBe(1);
  }, 20_000);

  it('retries an event that arrives before its user is known and delivers it once the user registers', async () => {
    const late = newUser();
    const orderId = randomUUID();
    await publish(placed(late.userId, orderId), registered(late));

    await eventually('the order email', () => subjects(late.email).includes(`Order ${orderId} received`));
    // The order event was handled first and failed; only its retry, after the welcome, could succeed.
    expect(subjects(late.email)).toEqual(['Welcome to ordermesh', `Order ${orderId} received`]);
  }, 20_000);

  it('dead-letters an event that does not decode, with the reason, and keeps consuming', async () => {
    const channel = await broker.createConfirmChannel();
    const garbageId = randomUUID();
    // Straight into the test queue, not through the shared exchange: a running dev instance would dead-letter it too.
    channel.sendToQueue(queue, Buffer.from('not protobuf'), {
      messageId: garbageId,
      headers: { 'x-ordermesh-routing-key': 'order.placed' },
      persistent: true,
    });
    await channel.waitForConfirms();
    const next = newUser();
    await publish(registered(next));
    await eventually('the email of the event after the garbage', () => smtp.to(next.email).length === 1);

    const dead = await eventually('the garbage in the dead-letter queue', async () => {
      const message = await channel.get(queueNames(queue).deadLetterQueue, { noAck: true });
      return message && message.properties.messageId === garbageId ? message : undefined;
    });
    expect(String(dead.properties.headers?.['x-ordermesh-dead-reason'])).toContain('does not decode as order.placed');
    // Dead-lettered on its first attempt, not after using up the retries.
    expect(dead.properties.headers?.['x-ordermesh-attempt']).toBe(1);
    await channel.close();
  }, 20_000);

  it('lists the caller’s notifications newest first, a page at a time', async () => {
    const reader = newUser();
    const orderId = randomUUID();
    await publish(registered(reader), placed(reader.userId, orderId));
    await eventually('both emails', () => smtp.to(reader.email).length === 2);
    const token = (await issuer.issue(reader.userId)).token;

    const first = await listMyNotifications({ pageSize: 1 }, token);
    expect(first.notifications.map((n) => n.kind)).toEqual(['order.placed']);
    expect(first.notifications[0]).toMatchObject({ recipient: reader.email, subject: `Order ${orderId} received` });
    expect(first.nextPageToken).not.toBe('');

    const second = await listMyNotifications({ pageSize: 1, pageToken: first.nextPageToken }, token);
    expect(second.notifications.map((n) => n.kind)).toEqual(['user.registered']);
    expect(second.nextPageToken).toBe('');
  }, 20_000);

  it('refuses to list without a valid access token', async () => {
    await expect(listMyNotifications({})).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    await expect(listMyNotifications({}, 'not.a.token')).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
  });
});

describe('PostgresNotificationStore.deliverOnce', () => {
  /** A notification of a new event of its own, to `recipient`. */
  const newNotification = (recipient: string) => ({
    eventId: randomUUID(),
    userId: randomUUID(),
    kind: 'order.placed',
    channel: 'test',
    recipient,
    subject: 'subject',
    body: 'body',
  });

  it('sends once when two deliveries of the same event race', async () => {
    const store = new PostgresNotificationStore(connections.pool);
    const notification = newNotification('race@example.test');
    const sent: string[] = [];
    // A slow send keeps the first transaction open while the second one arrives.
    const slowSend = async (message: { to: string }) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      sent.push(message.to);
    };

    const outcomes = await Promise.all([
      store.deliverOnce(notification, slowSend),
      store.deliverOnce(notification, slowSend),
    ]);

    expect(outcomes.sort()).toEqual([false, true]);
    expect(sent).toEqual(['race@example.test']);
    const row = await db.notification.findUniqueOrThrow({ where: { eventId: notification.eventId } });
    expect(row).toMatchObject({ status: 'SENT', sentAt: expect.any(Date) });
  });
  it('records nothing when the send fails, so the next delivery sends', async () => {
    const store = new PostgresNotificationStore(connections.pool);
    const notification = newNotification('retry@example.test');
    const failingSend = async () => {
      throw new Error('relay refused');
    };
    const sent: string[] = [];

    await expect(store.deliverOnce(notification, failingSend)).rejects.toThrow('relay refused');
    expect(await db.notification.count({ where: { eventId: notification.eventId } })).toBe(0);
    expect(
      await store.deliverOnce(notification, async (message) => void sent.push(`${message.id} ${message.to}`)),
    ).toBe(true);
    expect(sent).toEqual([`${notification.eventId} retry@example.test`]);
    expect(await db.notification.findUniqueOrThrow({ where: { eventId: notification.eventId } })).toMatchObject({
      status: 'SENT',
      sentAt: expect.any(Date),
    });
  });

  it('delivers what comes while its transactions are busy together, in one transaction', async () => {
    const store = new PostgresNotificationStore(connections.pool, 1);
    const notifications = ['one', 'two', 'three'].map((name) => newNotification(`${name}@batch.example.test`));
    const sent: string[] = [];
    const send = async (message: { to: string }) => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      sent.push(message.to);
    };

    const outcomes = await Promise.all(notifications.map((notification) => store.deliverOnce(notification, send)));

    expect(outcomes).toEqual([true, true, true]);
    expect(sent.sort()).toEqual(['one@batch.example.test', 'three@batch.example.test', 'two@batch.example.test']);
    const rows = await db.notification.findMany({
      where: { eventId: { in: notifications.map((notification) => notification.eventId) } },
    });
    const sentAt = (recipient: string) => rows.find((row) => row.recipient === recipient)?.sentAt?.getTime();
    // sent_at is the transaction's start: the first ran alone, the other two shared the next one.
    expect(sentAt('two@batch.example.test')).toBe(sentAt('three@batch.example.test'));
    expect(sentAt('one@batch.example.test')).toBeLessThan(sentAt('two@batch.example.test') as number);
    expect(rows.map((row) => row.status)).toEqual(['SENT', 'SENT', 'SENT']);
  });

  it('records the sends of a batch that went out, and not the one that failed', async () => {
    const store = new PostgresNotificationStore(connections.pool, 1);
    const [first, good, refused] = ['first', 'good', 'refused'].map((name) =>
      newNotification(`${name}@partial.example.test`),
    ) as [ReturnType<typeof newNotification>, ReturnType<typeof newNotification>, ReturnType<typeof newNotification>];
    const send = async (message: { to: string }) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (message.to.startsWith('refused')) throw new Error('mailbox unavailable');
    };

    const outcomes = await Promise.allSettled([first, good, refused].map((n) => store.deliverOnce(n, send)));

    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    const recorded = async (notification: { eventId: string }) =>
      (await db.notification.findUnique({ where: { eventId: notification.eventId } }))?.status ?? 'none';
    expect([await recorded(first), await recorded(good), await recorded(refused)]).toEqual(['SENT', 'SENT', 'none']);
    // Its next delivery sends it; a repeat of one that went out does not.
    const resent: string[] = [];
    const [again, repeat] = await Promise.all([
      store.deliverOnce(refused, async (message) => void resent.push(message.to)),
      store.deliverOnce(good, async (message) => void resent.push(message.to)),
    ]);
    expect([again, repeat]).toEqual([true, false]);
    expect(resent).toEqual(['refused@partial.example.test']);
    expect(await recorded(refused)).toBe('SENT');
  });
});
