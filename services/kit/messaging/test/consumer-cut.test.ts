import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from '@jest/globals';
import { EventConsumer, EventPublisher, queueNames } from '@ordermesh/messaging';
import { createLogger } from '@ordermesh/runtime';
import { eventually, TcpProxy } from '@ordermesh/testing';
import { connect } from 'amqplib';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const runId = randomUUID().slice(0, 8);
const exchange = `ordermesh.test.cut.${runId}`;
const queue = `consumer.cut.test.${runId}`;
const log = createLogger('consumer-cut-test', 'silent');
const proxy = new TcpProxy(5672);
let consumer: EventConsumer | undefined;
const publisher = new EventPublisher(AMQP_URL, log, exchange);

afterAll(async () => {
  await consumer?.stop(1_000);
  await publisher.close();
  await proxy.stop();
  const connection = await connect(AMQP_URL);
  const channel = await connection.createChannel();
  const names = queueNames(queue);
  for (const name of [names.queue, names.deadLetterQueue, names.retryQueue(100), `${exchange}.unrouted`]) {
    await channel.deleteQueue(name);
  }
  for (const name of [exchange, `${exchange}.unrouted`, names.deadLetterExchange]) await channel.deleteExchange(name);
  await connection.close();
});

describe('EventConsumer when the broker connection drops during a handler', () => {
  it('survives the ack on a closed channel and handles the redelivered event', async () => {
    await proxy.start();
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const attempts: number[] = [];
    consumer = new EventConsumer(`amqp://guest:guest@127.0.0.1:${proxy.port}`, log, {
      queue,
      exchange,
      bindings: ['cut.test'],
      retryDelaysMs: [100],
      handler: async (event) => {
        attempts.push(event.attempt);
        await gate;
      },
    });
    await consumer.start();
    await consumer.consuming;
    await publisher.publish([
      {
        eventId: randomUUID(),
        routingKey: 'cut.test',
        messageType: 'test',
        payload: Buffer.from('x'),
        headers: {},
        occurredAt: new Date(),
      },
    ]);
    await eventually('the handler to start', () => attempts.length === 1);
    await proxy.cut();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The ack now meets a closed channel: before the fix this crashed the process.
    release();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await proxy.restore();
    await eventually('the redelivered event to be handled', () => attempts.length === 2, 10_000);
    expect(attempts).toEqual([1, 1]);
  });
});
