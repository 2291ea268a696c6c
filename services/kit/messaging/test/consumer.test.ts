import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type ConsumedEvent,
  EventConsumer,
  type EventConsumerOptions,
  EventPublisher,
  PoisonMessageError,
  queueNames,
} from '@ordermesh/messaging';
import { createLogger } from '@ordermesh/runtime';
import { eventually } from '@ordermesh/testing';
import { type Channel, type ChannelModel, connect, type GetMessage } from 'amqplib';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const runId = randomUUID().slice(0, 8);
const exchange = `ordermesh.test.${runId}`;
const retryDelaysMs = [100, 200] as const;
const log = createLogger('consumer-test', 'silent');

let broker: ChannelModel;
let channel: Channel;
let publisher: EventPublisher;
const consumers: EventConsumer[] = [];
const queues: string[] = [];
const exchanges: string[] = [exchange];

/** A consumer on a queue of its own, started and bound. */
async function startConsumer(
  handler: EventConsumerOptions['handler'],
  options: Partial<EventConsumerOptions> = {},
): Promise<{ consumer: EventConsumer; queue: string; routingKey: string }> {
  const suffix = randomUUID().slice(0, 8);
  const queue = `consumer.test.${runId}.${suffix}`;
  queues.push(queue);
  const routingKey = `test.${suffix}`;
  const consumer = new EventConsumer(AMQP_URL, log, {
    queue,
    bindings: [routingKey],
    handler,
    exchange,
    retryDelaysMs,
    ...options,
  });
  consumers.push(consumer);
  await consumer.start();
  await consumer.consuming;
  return { consumer, queue, routingKey };
}

async function publish(routingKey: string, body = 'hello', eventId = randomUUID(), to = publisher) {
  await to.publish([
    {
      eventId,
      routingKey,
      messageType: 'test.Event',
      payload: Buffer.from(body),
      headers: { 'x-test': 'yes' },
      occurredAt: new Date(),
    },
  ]);
  return eventId;
}

async function getOne(queue: string): Promise<GetMessage | undefined> {
  const message = await channel.get(queue, { noAck: true });
  return message || undefined;
}

const messageCount = async (queue: string) => (await channel.checkQueue(queue)).messageCount;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

beforeAll(async () => {
  broker = await connect(AMQP_URL);
  channel = await broker.createChannel();
  channel.on('error', () => {});
  publisher = new EventPublisher(AMQP_URL, log, exchange);
});

afterAll(async () => {
  for (const consumer of consumers) await consumer.stop(1_000);
  await publisher?.close();
  if (broker) {
    const cleanup = await broker.createChannel();
    for (const queue of queues) {
      const names = queueNames(queue);
      for (const name of [queue, names.deadLetterQueue, ...retryDelaysMs.map(names.retryQueue)]) {
        await cleanup.deleteQueue(name);
      }
      await cleanup.deleteExchange(names.deadLetterExchange);
    }
    for (const name of exchanges) {
      await cleanup.deleteQueue(`${name}.unrouted`);
      await cleanup.deleteExchange(name);
      await cleanup.deleteExchange(`${name}.unrouted`);
    }
    await broker.close();
  }
}, 30_000);

describe('EventConsumer', () => {
  it('resolves `consuming` only once its queues are declared, bound and consumed from', async () => {
    let handled = 0;
    const { queue, routingKey } = await startConsumer(async () => {
      handled += 1;
    });
    const names = queueNames(queue);
    expect((await channel.checkQueue(queue)).consumerCount).toBe(1);
    await channel.checkQueue(names.deadLetterQueue);
    for (const delay of retryDelaysMs) await channel.checkQueue(names.retryQueue(delay));
    // The binding is in place: an event published right now reaches the consumer, not the unrouted queue.
    const unroutedBefore = await messageCount(`${exchange}.unrouted`);
    await publish(routingKey);
    await eventually('the event handled', () => handled === 1);
    expect(await messageCount(`${exchange}.unrouted`)).toBe(unroutedBefore);
  });

  it('hands the handler the event and acks it only after the handler resolved', async () => {
    const seen: ConsumedEvent[] = [];
    const release = gate();
    const { queue, routingKey } = await startConsumer(
      async (event) => {
        seen.push(event);
        await release.opened;
      },
      { prefetch: 1 },
    );
    const first = await publish(routingKey, 'first');
    const second = await publish(routingKey, 'second');

    await eventually('the first delivery', () => seen.length === 1);
    // Still unacked while the handler runs: with prefetch 1, the second message waits in the queue.
    await pause(200);
    expect(seen).toHaveLength(1);
    expect(await messageCount(queue)).toBe(1);

    release.open();
    await eventually('the second delivery', () => seen.length === 2);
    await eventually('the queue empty', async () => (await messageCount(queue)) === 0);
    expect(seen.map((event) => [event.eventId, event.routingKey, event.body.toString(), event.attempt])).toEqual([
      [first, routingKey, 'first', 1],
      [second, routingKey, 'second', 1],
    ]);
    expect(seen[0]?.headers).toMatchObject({ 'x-test': 'yes' });
  });

  it('retries a failing handler through the retry queues, counting attempts, then dead-letters it with the reason', async () => {
    const attempts: { attempt: number; at: number }[] = [];
    const { queue, routingKey } = await startConsumer(async (event) => {
      attempts.push({ attempt: event.attempt, at: Date.now() });
      throw new Error(`boom on attempt ${event.attempt}`);
    });
    const eventId = await publish(routingKey, 'always fails');

    const dead = await eventually('the dead-lettered event', () => getOne(queueNames(queue).deadLetterQueue), 10_000);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Each retry waited at least its delay.
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(retryDelaysMs[0] - 10);
    expect((attempts[2]?.at ?? 0) - (attempts[1]?.at ?? 0)).toBeGreaterThanOrEqual(retryDelaysMs[1] - 10);
    expect(dead.properties.messageId).toBe(eventId);
    expect(dead.content.toString()).toBe('always fails');
    expect(dead.properties.headers).toMatchObject({
      'x-ordermesh-dead-reason': 'boom on attempt 3',
      'x-ordermesh-attempt': 3,
      'x-ordermesh-routing-key': routingKey,
      'x-test': 'yes',
    });
    await pause(300);
    expect(attempts).toHaveLength(3);
    expect(await messageCount(queue)).toBe(0);
  });

  it('delivers a retried event with its routing key and attempt header, and stops retrying once it succeeds', async () => {
    const seen: ConsumedEvent[] = [];
    const { queue, routingKey } = await startConsumer(async (event) => {
      seen.push(event);
      if (event.attempt === 1) throw new Error('transient');
    });
    const eventId = await publish(routingKey);

    await eventually('the second attempt', () => seen.length === 2);
    await pause(400);
    expect(seen.map((event) => [event.eventId, event.routingKey, event.attempt])).toEqual([
      [eventId, routingKey, 1],
      [eventId, routingKey, 2],
    ]);
    expect(seen[1]?.headers).toMatchObject({ 'x-ordermesh-attempt': 2, 'x-ordermesh-last-error': 'transient' });
    expect(await messageCount(queueNames(queue).deadLetterQueue)).toBe(0);
  });

  it('sends a poison message straight to the dead-letter queue', async () => {
    let calls = 0;
    const { queue, routingKey } = await startConsumer(async () => {
      calls += 1;
      throw new PoisonMessageError('cannot be decoded');
    });
    const eventId = await publish(routingKey);

    const dead = await eventually('the dead-lettered event', () => getOne(queueNames(queue).deadLetterQueue));
    expect(dead.properties.messageId).toBe(eventId);
    expect(dead.properties.headers).toMatchObject({
      'x-ordermesh-dead-reason': 'cannot be decoded',
      'x-ordermesh-attempt': 1,
    });
    await pause(300);
    expect(calls).toBe(1);
  });

  it('dead-letters a message without a message id without calling the handler', async () => {
    let calls = 0;
    const { queue } = await startConsumer(async () => {
      calls += 1;
    });
    const confirm = await broker.createConfirmChannel();
    confirm.sendToQueue(queue, Buffer.from('anonymous'), { persistent: true });
    await confirm.waitForConfirms();
    await confirm.close();

    const dead = await eventually('the dead-lettered message', () => getOne(queueNames(queue).deadLetterQueue));
    expect(dead.content.toString()).toBe('anonymous');
    expect(dead.properties.headers).toMatchObject({ 'x-ordermesh-dead-reason': 'message has no message id' });
    expect(calls).toBe(0);
  });

  it('never has more handlers running than the prefetch', async () => {
    let running = 0;
    let most = 0;
    let done = 0;
    const { routingKey } = await startConsumer(
      async () => {
        running += 1;
        most = Math.max(most, running);
        await pause(150);
        running -= 1;
        done += 1;
      },
      { prefetch: 2 },
    );
    for (let i = 0; i < 8; i++) await publish(routingKey, `message ${i}`);

    await eventually('all eight handled', () => done === 8, 10_000);
    expect(most).toBe(2);
  });

  it('keeps an event that no queue is bound for in <exchange>.unrouted', async () => {
    const lonely = `ordermesh.test.${runId}.lonely`;
    exchanges.push(lonely);
    const lonelyPublisher = new EventPublisher(AMQP_URL, log, lonely);
    try {
      const eventId = await publish('order.placed', 'nobody listens yet', randomUUID(), lonelyPublisher);
      const kept = await eventually('the unrouted event', () => getOne(`${lonely}.unrouted`));
      expect(kept.properties.messageId).toBe(eventId);
      expect(kept.fields.routingKey).toBe('order.placed');
      expect(kept.content.toString()).toBe('nobody listens yet');
    } finally {
      await lonelyPublisher.close();
    }
  });

  it('stop() waits for the handlers in flight, which then ack', async () => {
    let finishedAt = 0;
    let started = false;
    const { consumer, queue, routingKey } = await startConsumer(async () => {
      started = true;
      await pause(400);
      finishedAt = Date.now();
    });
    await publish(routingKey);
    await eventually('the handler to start', () => started);

    await consumer.stop(5_000);
    const stoppedAt = Date.now();
    expect(finishedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeGreaterThanOrEqual(finishedAt);
    // Acked before the connection closed: nothing went back to the queue.
    await pause(100);
    expect(await messageCount(queue)).toBe(0);
  });
});
