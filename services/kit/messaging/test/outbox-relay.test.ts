import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  assertEventExchange,
  EventPublisher,
  OutboxRelay,
  type OutgoingEvent,
  outboxRecord,
} from '@ordermesh/messaging';
import { createLogger } from '@ordermesh/runtime';
import {
  connectDatabaseUnderTest,
  createMigratedDatabase,
  type DatabaseUnderTest,
  eventually,
  TcpProxy,
} from '@ordermesh/testing';
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from 'amqplib';
import { PrismaClient } from '../../../payment/src/generated/prisma/client.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const runId = randomUUID().slice(0, 8);
const exchange = `ordermesh.test.${runId}`;
const queue = `outbox.test.${runId}`;
const log = createLogger('outbox-relay-test', 'silent');

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let db: InstanceType<typeof PrismaClient>;
let connections: DatabaseUnderTest<InstanceType<typeof PrismaClient>>;
let broker: ChannelModel;
let channel: Channel;
/** Every message the test queue received, in arrival order. */
const received: ConsumeMessage[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

/** A real publisher that also records what it was asked to publish and what the table said at that moment. */
class RecordingPublisher extends EventPublisher {
  readonly batches: string[][] = [];
  /** For each published event: was its row still unsent while publish() ran? */
  readonly sentAtDuringPublish = new Map<string, Date | null>();

  constructor(
    url: string,
    private readonly delayMs = 0,
  ) {
    super(url, log, exchange);
  }

  override async publish(events: readonly OutgoingEvent[]): Promise<void> {
    const ids = events.map((event) => event.eventId);
    const rows = await db.outboxEvent.findMany({
      where: { eventId: { in: ids } },
      select: { eventId: true, sentAt: true },
    });
    for (const row of rows) this.sentAtDuringPublish.set(row.eventId, row.sentAt);
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await super.publish(events);
    this.batches.push(ids);
  }
}

function publisher(url = AMQP_URL, delayMs = 0): RecordingPublisher {
  const created = new RecordingPublisher(url, delayMs);
  cleanups.push(() => created.close());
  return created;
}

function relay(pub: EventPublisher, options: ConstructorParameters<typeof OutboxRelay>[3] = {}): OutboxRelay {
  const created = new OutboxRelay(connections.pool, pub, log, { pollMs: 50, maxBackoffMs: 200, ...options });
  cleanups.push(() => created.stop());
  return created;
}

/** Writes outbox rows the way the services do and returns them in id order. */
async function writeEvents(count: number, headers: Record<string, string> = {}) {
  const records = Array.from({ length: count }, (_, index) => ({
    ...outboxRecord('order.cancelled', {
      orderId: randomUUID(),
      userId: randomUUID(),
      refunded: index % 2 === 0,
      occurredAt: new Date(),
    }),
    headers,
  }));
  await db.outboxEvent.createMany({ data: records });
  return db.outboxEvent.findMany({ where: { eventId: { in: records.map((r) => r.eventId) } }, orderBy: { id: 'asc' } });
}

const receivedIds = () => received.map((message) => message.properties.messageId as string);
const countOf = (eventId: string) => receivedIds().filter((id) => id === eventId).length;
const unsent = () => db.outboxEvent.count({ where: { sentAt: null } });

beforeAll(async () => {
  database = await createMigratedDatabase('payment');
  connections = await connectDatabaseUnderTest(PrismaClient, database.url, { max: 4 });
  db = connections.db;
  broker = await connect(AMQP_URL);
  channel = await broker.createChannel();
  await assertEventExchange(channel, exchange);
  await channel.assertQueue(queue, { durable: true });
  await channel.bindQueue(queue, exchange, '#');
  await channel.consume(queue, (message) => message && received.push(message), { noAck: true });
}, 30_000);

beforeEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await db.outboxEvent.deleteMany();
  received.length = 0;
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  if (channel) {
    await channel.deleteQueue(queue);
    await channel.deleteQueue(`${exchange}.unrouted`);
    await channel.deleteExchange(exchange);
    await channel.deleteExchange(`${exchange}.unrouted`);
    await broker.close();
  }
  await connections?.close();
  await database?.drop();
}, 30_000);

describe('OutboxRelay', () => {
  it('publishes rows in the order they were written, persistent, with the event id as message id, and marks them sent afterwards', async () => {
    const rows = await writeEvents(7, { 'x-trace': 'abc' });
    const ids = rows.map((row) => row.eventId);
    const pub = publisher();
    const started = new Date(Date.now() - 1_000);

    // A batch smaller than the rows: the five lowest ids first, then the rest, each batch in id order.
    const once = relay(pub, { batchSize: 5 });
    expect(await once.relayOnce()).toBe(5);
    expect(await once.relayOnce()).toBe(2);
    expect(await once.relayOnce()).toBe(0);
    expect(pub.batches).toEqual([ids.slice(0, 5), ids.slice(5)]);

    await eventually('all seven messages', () => received.length === 7);
    expect(receivedIds()).toEqual(ids);
    for (const row of rows) {
      const message = received.find((m) => m.properties.messageId === row.eventId);
      expect(message?.fields.routingKey).toBe('order.cancelled');
      expect(message?.fields.exchange).toBe(exchange);
      expect(message?.properties).toMatchObject({
        messageId: row.eventId,
        type: 'ordermesh.events.v1.OrderCancelled',
        deliveryMode: 2,
        contentType: 'application/protobuf',
        timestamp: Math.floor(row.createdAt.getTime() / 1000),
      });
      expect(message?.properties.headers).toMatchObject({ 'x-trace': 'abc' });
      expect(Buffer.compare(message?.content ?? Buffer.alloc(0), Buffer.from(row.payload))).toBe(0);
    }

    // Every row was still unsent while it was being published, and is sent now.
    expect([...pub.sentAtDuringPublish.keys()].sort()).toEqual([...ids].sort());
    expect([...pub.sentAtDuringPublish.values()]).toEqual(rows.map(() => null));
    const after = await db.outboxEvent.findMany({ orderBy: { id: 'asc' } });
    for (const row of after) {
      expect(row.sentAt?.getTime()).toBeGreaterThanOrEqual(started.getTime());
      expect(row.lockedUntil).toBeNull();
      expect(row.attempts).toBe(1);
    }
  });

  it('waits a moment after a wake-up, so rows committed meanwhile share one batch', async () => {
    const pub = publisher();
    // No polling: only notify() wakes it.
    const running = relay(pub, { pollMs: 60_000, gatherMs: 300 });
    running.start();
    // Its first look, at start, found nothing.
    await new Promise((resolve) => setTimeout(resolve, 100));

    const first = await writeEvents(1);
    running.notify();
    const more = await writeEvents(3);
    running.notify();

    await eventually('every row sent', async () => (await unsent()) === 0);
    expect(pub.batches).toEqual([[...first, ...more].map((row) => row.eventId)]);
  });

  it('keeps rows unsent while the broker is unreachable, retries, and publishes each exactly once when it is back', async () => {
    const proxy = new TcpProxy(5672);
    await proxy.start();
    cleanups.push(() => proxy.stop());
    const pub = publisher(`amqp://guest:guest@127.0.0.1:${proxy.port}`);
    const running = relay(pub);

    // Connected and working before the outage.
    const before = await writeEvents(2);
    running.start();
    running.notify();
    await eventually('the first rows sent', async () => (await unsent()) === 0);

    await proxy.cut();
    const during = await writeEvents(5);
    running.notify();
    // The relay keeps trying: the claim counter of the first row goes up, and nothing is marked sent.
    await eventually(
      'several failed attempts',
      async () => (await db.outboxEvent.findUniqueOrThrow({ where: { id: during[0]?.id } })).attempts >= 3,
      10_000,
    );
    const stuck = await db.outboxEvent.findMany({ where: { id: { in: during.map((row) => row.id) } } });
    expect(stuck.map((row) => row.sentAt)).toEqual(during.map(() => null));
    // A failed publish hands the rows back at once rather than waiting for the lease.
    await eventually('the lease released after a failure', async () =>
      (await db.outboxEvent.findMany({ where: { sentAt: null } })).every((row) => row.lockedUntil === null),
    );

    await proxy.restore();
    await eventually('every row sent after the broker came back', async () => (await unsent()) === 0, 10_000);
    await eventually('every message received', () => received.length >= 7);
    // Settle: nothing more should arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const all = [...before, ...during].map((row) => row.eventId);
    expect(receivedIds().sort()).toEqual([...all].sort());
    for (const eventId of all) expect(countOf(eventId)).toBe(1);
    // The rows written before the outage went out before it.
    expect(receivedIds().slice(0, 2).sort()).toEqual(before.map((row) => row.eventId).sort());
  }, 20_000);

  it('lets two relays share a table: each row is published once', async () => {
    const rows = await writeEvents(120);
    const [first, second] = [publisher(AMQP_URL, 30), publisher(AMQP_URL, 30)];
    const relays = [relay(first, { batchSize: 10 }), relay(second, { batchSize: 10 })];
    for (const r of relays) r.start();

    await eventually('every row sent', async () => (await unsent()) === 0, 15_000);
    await eventually('every message received', () => received.length >= rows.length);
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(received).toHaveLength(rows.length);
    expect(new Set(receivedIds()).size).toBe(rows.length);
    // Both took part, and no row went to both.
    const byFirst = new Set(first.batches.flat());
    const bySecond = new Set(second.batches.flat());
    expect(byFirst.size).toBeGreaterThan(0);
    expect(bySecond.size).toBeGreaterThan(0);
    expect([...byFirst].filter((id) => bySecond.has(id))).toEqual([]);
    expect(byFirst.size + bySecond.size).toBe(rows.length);
    // Each row was claimed once.
    expect(await db.outboxEvent.count({ where: { attempts: { not: 1 } } })).toBe(0);
  }, 20_000);

  it('re-claims a row whose lease expired, and leaves a row with a live lease alone', async () => {
    const [expired, leased] = await writeEvents(2);
    // As left by a relay that died mid-batch: claimed, never sent.
    await db.$executeRaw`UPDATE outbox_events SET locked_until = now() - interval '1 second', attempts = 1 WHERE id = ${expired?.id}`;
    await db.$executeRaw`UPDATE outbox_events SET locked_until = now() + interval '1 minute', attempts = 1 WHERE id = ${leased?.id}`;

    const once = relay(publisher());
    expect(await once.relayOnce()).toBe(1);
    await eventually('the re-claimed event', () => received.length === 1);
    expect(receivedIds()).toEqual([expired?.eventId]);

    const rows = await db.outboxEvent.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((row) => [row.eventId, row.sentAt !== null, row.attempts])).toEqual([
      [expired?.eventId, true, 2],
      [leased?.eventId, false, 1],
    ]);
    expect(await once.relayOnce()).toBe(0);
  });
});
