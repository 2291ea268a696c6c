import { type Channel, type ChannelModel, type ConfirmChannel, connect } from 'amqplib';
import type { Logger } from './logger.js';

/** The durable topic exchange all platform events go through. */
export const EVENTS_EXCHANGE = 'ordermesh.events';
/**
 * Where the broker puts events no queue is bound for yet (say, before
 * NotificationService first started), so that they are kept, not dropped.
 */
export const UNROUTED_EXCHANGE = 'ordermesh.events.unrouted';

/** Declares the event exchange; every publisher and consumer declares it the same way. */
export async function assertEventExchange(channel: Channel): Promise<void> {
  await channel.assertExchange(UNROUTED_EXCHANGE, 'fanout', { durable: true });
  await channel.assertQueue(UNROUTED_EXCHANGE, { durable: true });
  await channel.bindQueue(UNROUTED_EXCHANGE, UNROUTED_EXCHANGE, '');
  await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true, alternateExchange: UNROUTED_EXCHANGE });
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
  ) {}

  /** Resolves once the broker has confirmed every event; rejects if any was not. */
  async publish(events: readonly OutgoingEvent[]): Promise<void> {
    const channel = await this.open();
    try {
      for (const event of events) {
        channel.publish(EVENTS_EXCHANGE, event.routingKey, event.payload, {
          persistent: true,
          messageId: event.eventId,
          type: event.messageType,
          contentType: 'application/protobuf',
          timestamp: Math.floor(event.occurredAt.getTime() / 1000),
          headers: event.headers,
        });
      }
      await withTimeout(channel.waitForConfirms(), CONFIRM_TIMEOUT_MS, 'broker did not confirm in time');
    } catch (error) {
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
      await assertEventExchange(channel);
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

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
