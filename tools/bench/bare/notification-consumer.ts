/** Bare NotificationService's consumer: takes every order and payment event off its queue and acknowledges it. */
import { connect } from 'amqplib';
import { required } from './common.ts';

const connection = await connect(required('AMQP_URL'));
const channel = await connection.createChannel();
const exchange = required('EXCHANGE');
const queue = required('QUEUE');
await channel.assertExchange(exchange, 'topic', { durable: true });
await channel.assertQueue(queue, { durable: true });
for (const key of ['order.*', 'payment.*']) await channel.bindQueue(queue, exchange, key);
await channel.prefetch(16);
await channel.consume(queue, (message) => {
  if (message) channel.ack(message);
});
process.on('SIGTERM', () => connection.close().finally(() => process.exit(0)));
process.send?.('ready');
