import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import type { Logger } from '@ordermesh/runtime';
import { errorType, secondsSince, serviceMeter } from '@ordermesh/runtime';
import { type Channel, type ChannelModel, type ConfirmChannel, connect } from 'amqplib';

const meter = serviceMeter('@ordermesh/messaging');
/** Confirmed (no error.type) and failed (error.type set) publishes, per event (semantic conventions name). */
const sentMessages = meter.createCounter('messaging.client.sent.messages', {
  description: 'Events sent to the broker, by outcome of the publisher confirm',
  unit: '{message}',
});
const confirmDuration = meter.createHistogram('messaging.client.operation.duration', {
  description: 'Time from publishing a batch of events to the broker confirming it',
  unit: 's',
});

/** The durable topic exchange all platform events go through, unless EVENTS_EXCHANGE names another. */
export const EVENTS_EXCHANGE = 'ordermesh.events';

/**
 * Declares the event exchange; every publisher and consumer declares it the
 * same way. Events no queue is bound for yet (say, before NotificationService
 * first started) go to `<exchange>.unrouted` and are kept, not dropped.
 */
export async function assertEventExchange(channel: Channel, exchange: string): Promise<void> {
  const unrouted = `${exchange}.unrouted`;
  await channel.assertExchange(unrouted, 'fanout', { durable: true });
  await channel.assertQueue(unrouted, { durable: true });
  await channel.bindQueue(unrouted, unrouted, '');
  await channel.assertExchange(exchange, 'topic', { durable: true, alternateExchange: unrouted });
}

export interface OutgoingEvent {
  eventId: string;
  routingKey: string;
  messageType: string;
  payload: Buffer;
  headers: Record<string, string>;
  occurredAt: Date;
}

const CONFIRM_TIMEOUT_MS = 10_000;

/**
 * Publishes persistent events with publisher confirms. The connection is
 * opened on first use and dropped on any failure; the caller (the outbox
 * relay) retries with backoff, so a broker outage only delays events.
 */
export class EventPublisher {
  private connection: ChannelModel | undefined;
  private channel: Promise<ConfirmChannel> | undefined;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly exchange = EVENTS_EXCHANGE,
  ) {}

  /** Resolves once the broker has confirmed every event; rejects if any was not. */
  async publish(events: readonly OutgoingEvent[]): Promise<void> {
    const attributes = {
      'messaging.system': 'rabbitmq',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': this.exchange,
    };
    const startedAt = performance.now();
    try {
      const channel = await this.open();
      for (const event of events) {
        // Publish in the context of the request that wrote the event (its trace context travels in the
        // headers, see outboxRecord), so the publish span, and the consumer after it, join that trace.
        const producerContext = propagation.extract(ROOT_CONTEXT, event.headers);
        context.with(producerContext, () =>
          channel.publish(this.exchange, event.routingKey, event.payload, {
            persistent: true,
            messageId: event.eventId,
            type: event.messageType,
            contentType: 'application/protobuf',
            timestamp: Math.floor(event.occurredAt.getTime() / 1000),
            // A copy: the instrumentation writes its own traceparent into it.
            headers: { ...event.headers },
          }),
        );
      }
      await withTimeout(channel.waitForConfirms(), CONFIRM_TIMEOUT_MS, 'broker did not confirm in time');
      confirmDuration.record(secondsSince(startedAt), attributes);
      sentMessages.add(events.length, attributes);
    } catch (error) {
      const failed = { ...attributes, 'error.type': errorType(error) };
      confirmDuration.record(secondsSince(startedAt), failed);
      sentMessages.add(events.length, failed);
      await this.reset();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private open(): Promise<ConfirmChannel> {
    this.channel ??= (async () => {
      const connection = await connect(this.url, { timeout: 2_000 });
      this.connection = connection;
      connection.on('error', (error: Error) => this.log.warn({ err: error }, 'broker connection error'));
      connection.on('close', () => {
        this.connection = undefined;
        this.channel = undefined;
      });
      const channel = await connection.createConfirmChannel();
      channel.on('error', (error: Error) => this.log.warn({ err: error }, 'broker channel error'));
      await assertEventExchange(channel, this.exchange);
      this.log.info('connected to broker');
      return channel;
    })().catch((error: unknown) => {
      this.channel = undefined;
      throw error;
    });
    return this.channel;
  }

  private async reset(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    await connection?.close().catch(() => {});
  }
}

/** A wait given up by withTimeout; its own class so metrics can tell timeouts from other failures. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
