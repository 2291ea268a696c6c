import type { BatchObservableResult } from '@opentelemetry/api';
import type { Logger } from '@ordermesh/runtime';
import { errorType, readWithin, secondsSince, serviceMeter } from '@ordermesh/runtime';
import {
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  connect,
  type RecoveringChannelModel,
} from 'amqplib';
import { assertEventExchange, EVENTS_EXCHANGE, withTimeout } from './publisher.js';

const meter = serviceMeter('@ordermesh/messaging');
const consumedMessages = meter.createCounter('messaging.client.consumed.messages', {
  description: 'Events delivered to this consumer',
  unit: '{message}',
});
const processDuration = meter.createHistogram('messaging.process.duration', {
  description: 'Time the handler took per event; error.type is set when it failed',
  unit: 's',
});
const redeliveries = meter.createCounter('ordermesh.messaging.redeliveries', {
  description: 'Deliveries that were not the first: broker redeliveries and delayed retries',
  unit: '{message}',
});
const deadLettered = meter.createCounter('ordermesh.messaging.dead_lettered', {
  description: 'Events this consumer moved to its dead-letter queue',
  unit: '{message}',
});
const queueDepth = meter.createObservableGauge('ordermesh.messaging.queue.depth', {
  description: 'Events ready in the queue, waiting for a consumer: the consumer lag',
  unit: '{message}',
});
const deadLetterDepth = meter.createObservableGauge('ordermesh.messaging.dead_letter.depth', {
  description: 'Events in the dead-letter queue, waiting for an operator',
  unit: '{message}',
});
const consumerConnected = meter.createObservableGauge('ordermesh.messaging.consumer.connected', {
  description: '1 while this consumer has a channel consuming from its queue, else 0',
  unit: '{consumer}',
});
const QUEUE_CHECK_TIMEOUT_MS = 2_000;

export interface ConsumedEvent {
  eventId: string;
  routingKey: string;
  body: Buffer;
  /** 1 on first delivery, then 2, 3... after each delayed retry. */
  attempt: number;
  headers: Record<string, unknown>;
}

/** Thrown by a handler for a message that no retry can fix: it goes straight to the dead-letter queue. */
export class PoisonMessageError extends Error {
  override name = 'PoisonMessageError';
}

export interface EventConsumerOptions {
  queue: string;
  /** Routing-key patterns bound to the queue, e.g. "order.*". */
  bindings: readonly string[];
  handler: (event: ConsumedEvent) => Promise<void>;
  /** The topic exchange to bind to; EVENTS_EXCHANGE by default. */
  exchange?: string;
  /** At most this many unacknowledged messages in flight. */
  prefetch?: number;
  /** One delayed retry per entry; after the last, the message is dead-lettered. */
  retryDelaysMs?: readonly number[];
}

const ATTEMPT_HEADER = 'x-ordermesh-attempt';

/**
 * Headers a dead letter carries, besides the broker's own x-death history of
 * its trips through the retry queues. The dead-letters tool reads them.
 */
export const DEAD_LETTER_HEADERS = {
  /** Why it was dead-lettered: the handler's error message. */
  reason: 'x-ordermesh-dead-reason',
  /** When it was dead-lettered (ISO 8601). */
  deadAt: 'x-ordermesh-dead-at',
  /** When its first delivery failed (ISO 8601). */
  firstFailedAt: 'x-ordermesh-first-failed-at',
  /** How many deliveries were tried. */
  attempts: ATTEMPT_HEADER,
  /** Where it was first published: a re-drive publishes it there again. */
  exchange: 'x-ordermesh-exchange',
  routingKey: 'x-ordermesh-routing-key',
} as const;

/** Longest reason kept in a header: an error message can be anything. */
const MAX_REASON_LENGTH = 1_000;

/** Names of the queues around a consumer's queue; operators and tests use them too. */
export const queueNames = (queue: string) => ({
  queue,
  deadLetterExchange: `${queue}.dlx`,
  deadLetterQueue: `${queue}.dead`,
  retryQueue: (delayMs: number) => `${queue}.retry.${delayMs}ms`,
});

/**
 * Consumes events from a durable queue with manual acks, sent only after the
 * handler's work is done, and a bounded prefetch. A failed message is parked
 * in a TTL retry queue that dead-letters it back after a delay; after the last
 * retry, or at once for a poison message, it goes to the dead-letter queue
 * with the reason in its headers. The connection recovers by itself.
 */
export class EventConsumer {
  private readonly prefetch: number;
  private readonly retryDelaysMs: readonly number[];
  private readonly names: ReturnType<typeof queueNames>;
  private readonly exchange: string;
  private connection: RecoveringChannelModel | undefined;
  /** The channel currently consuming, undefined while the connection is down; the gauges read through it. */
  private channel: ConfirmChannel | undefined;
  private readonly attributes: { 'messaging.system': string; 'messaging.destination.name': string };
  private inFlight = 0;
  private stopping = false;
  private markConsuming: () => void = () => {};
  /**
   * Resolves once the queue is declared, bound and consumed from for the
   * first time. From then on the durable queue keeps events while the
   * service is away; before it, events would have no queue to go to.
   */
  readonly consuming = new Promise<void>((resolve) => {
    this.markConsuming = resolve;
  });

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly options: EventConsumerOptions,
  ) {
    this.prefetch = options.prefetch ?? 16;
    this.retryDelaysMs = options.retryDelaysMs ?? [1_000, 5_000, 30_000];
    this.names = queueNames(options.queue);
    this.exchange = options.exchange ?? EVENTS_EXCHANGE;
    this.attributes = { 'messaging.system': 'rabbitmq', 'messaging.destination.name': options.queue };
  }

  private readonly observeQueues = async (observer: BatchObservableResult) => {
    const channel = this.channel;
    observer.observe(consumerConnected, channel ? 1 : 0, this.attributes);
    if (!channel) return;
    const depths = await readWithin(QUEUE_CHECK_TIMEOUT_MS, async () => ({
      queue: (await channel.checkQueue(this.names.queue)).messageCount,
      dead: (await channel.checkQueue(this.names.deadLetterQueue)).messageCount,
    }));
    if (!depths) return;
    observer.observe(queueDepth, depths.queue, this.attributes);
    observer.observe(deadLetterDepth, depths.dead, this.attributes);
  };

  /** Starts consuming. Returns at once; the first connection and every reconnection happen in the background. */
  async start(): Promise<void> {
    const connection = await connect(this.url, {
      timeout: 2_000,
      recovery: {
        waitForConnect: false,
        initialDelay: 200,
        maxDelay: 5_000,
        setup: async (model: ChannelModel) => {
          const channel = await model.createConfirmChannel();
          channel.on('error', (error: Error) => this.log.warn({ err: error }, 'consumer channel error'));
          await this.declareTopology(channel);
          await channel.prefetch(this.prefetch);
          await channel.consume(this.options.queue, (message: ConsumeMessage | null) => {
            if (message)
              void this.handle(channel, message).catch((error: unknown) =>
                this.log.error({ err: error }, 'event handling failed'),
              );
          });
          this.channel = channel;
          channel.on('close', () => {
            if (this.channel === channel) this.channel = undefined;
          });
          this.log.info({ queue: this.options.queue }, 'consuming');
          this.markConsuming();
        },
      },
    });
    connection.on('disconnect', (error: Error) => this.log.warn({ err: error }, 'broker connection lost'));
    meter.addBatchObservableCallback(this.observeQueues, [queueDepth, deadLetterDepth, consumerConnected]);
    connection.on('error', (error: Error) => this.log.warn({ err: error }, 'broker connection error'));
    this.connection = connection;
  }

  /** Stops taking messages, waits for the ones in hand (up to `graceMs`), then closes. Unacked ones are redelivered. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    meter.removeBatchObservableCallback(this.observeQueues, [queueDepth, deadLetterDepth, consumerConnected]);
    const until = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    await this.connection?.close().catch(() => {});
  }

  private async declareTopology(channel: ConfirmChannel): Promise<void> {
    const { queue, deadLetterExchange, deadLetterQueue, retryQueue } = this.names;
    await assertEventExchange(channel, this.exchange);
    await channel.assertExchange(deadLetterExchange, 'direct', { durable: true });
    await channel.assertQueue(deadLetterQueue, { durable: true });
    await channel.bindQueue(deadLetterQueue, deadLetterExchange, queue);
    // Anything the broker itself dead-letters from the main queue also lands in the dead-letter queue.
    await channel.assertQueue(queue, { durable: true, deadLetterExchange, deadLetterRoutingKey: queue });
    for (const delay of this.retryDelaysMs) {
      await channel.assertQueue(retryQueue(delay), {
        durable: true,
        messageTtl: delay,
        deadLetterExchange: '',
        deadLetterRoutingKey: queue,
      });
    }
    for (const pattern of this.options.bindings) await channel.bindQueue(queue, this.exchange, pattern);
  }

  private async handle(channel: ConfirmChannel, message: ConsumeMessage): Promise<void> {
    this.inFlight += 1;
    const headers = message.properties.headers ?? {};
    const attempt = Number(headers[ATTEMPT_HEADER] ?? 1);
    const routingKey = String(headers['x-ordermesh-routing-key'] ?? message.fields.routingKey);
    const eventId = String(message.properties.messageId ?? '');
    const log = this.log.child({ eventId, routingKey, attempt });
    const startedAt = performance.now();
    try {
      if (this.stopping) {
        settle(log, () => channel.nack(message, false, true));
        return;
      }
      this.countDelivery(message, attempt);
      let failure: unknown;
      try {
        if (!eventId) throw new PoisonMessageError('message has no message id');
        await this.options.handler({ eventId, routingKey, body: message.content, attempt, headers });
        processDuration.record(secondsSince(startedAt), this.attributes);
      } catch (error) {
        processDuration.record(secondsSince(startedAt), { ...this.attributes, 'error.type': errorType(error) });
        failure = error;
      }
      if (failure === undefined) settle(log, () => channel.ack(message));
      else await this.park(channel, message, attempt, failure, log);
    } finally {
      this.inFlight -= 1;
    }
  }

  /** Moves a failed message to its next retry queue, or to the dead-letter queue, then acks it. */
  private async park(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    attempt: number,
    error: unknown,
    log: Logger,
  ): Promise<void> {
    const reason = (error instanceof Error ? error.message : String(error)).slice(0, MAX_REASON_LENGTH);
    const delay = this.retryDelaysMs[attempt - 1];
    const now = new Date().toISOString();
    const firstFailedAt = message.properties.headers?.[DEAD_LETTER_HEADERS.firstFailedAt] ?? now;
    try {
      if (error instanceof PoisonMessageError || delay === undefined) {
        log.error({ err: error }, 'dead-lettering event');
        deadLettered.add(1, {
          ...this.attributes,
          'ordermesh.dead_letter.reason': error instanceof PoisonMessageError ? 'poison' : 'retries_exhausted',
        });
        await this.republish(channel, message, this.names.deadLetterQueue, {
          [ATTEMPT_HEADER]: attempt,
          [DEAD_LETTER_HEADERS.reason]: reason,
          [DEAD_LETTER_HEADERS.deadAt]: now,
          [DEAD_LETTER_HEADERS.firstFailedAt]: firstFailedAt,
        });
      } else {
        log.warn({ err: error, retryInMs: delay }, 'event failed, will retry');
        await this.republish(channel, message, this.names.retryQueue(delay), {
          [ATTEMPT_HEADER]: attempt + 1,
          'x-ordermesh-last-error': reason,
          [DEAD_LETTER_HEADERS.firstFailedAt]: firstFailedAt,
        });
      }
      settle(log, () => channel.ack(message));
    } catch (republishError) {
      // Could not park it: let the broker redeliver it rather than lose it.
      log.warn({ err: republishError }, 'could not park failed event, requeueing');
      settle(log, () => channel.nack(message, false, true));
    }
  }

  private countDelivery(message: ConsumeMessage, attempt: number): void {
    consumedMessages.add(1, this.attributes);
    if (message.fields.redelivered) redeliveries.add(1, { ...this.attributes, 'ordermesh.redelivery.cause': 'broker' });
    else if (attempt > 1) redeliveries.add(1, { ...this.attributes, 'ordermesh.redelivery.cause': 'retry' });
  }

  private async republish(
    channel: ConfirmChannel,
    message: ConsumeMessage,
    queue: string,
    extraHeaders: Record<string, unknown>,
  ): Promise<void> {
    const { properties } = message;
    channel.sendToQueue(queue, message.content, {
      persistent: true,
      messageId: properties.messageId,
      type: properties.type,
      contentType: properties.contentType,
      timestamp: properties.timestamp,
      headers: {
        ...properties.headers,
        // Kept from the first delivery: later ones come from a retry queue through the default exchange.
        [DEAD_LETTER_HEADERS.routingKey]:
          properties.headers?.[DEAD_LETTER_HEADERS.routingKey] ?? message.fields.routingKey,
        [DEAD_LETTER_HEADERS.exchange]: properties.headers?.[DEAD_LETTER_HEADERS.exchange] ?? message.fields.exchange,
        ...extraHeaders,
      },
    });
    await withTimeout(channel.waitForConfirms(), 10_000, 'broker did not confirm in time');
  }
}

/**
 * Acks or nacks a message. When the channel closed meanwhile (the broker
 * connection dropped) there is nothing to settle: the broker redelivers every
 * unacked message, and the handler dedupes by event id.
 */
function settle(log: Logger, action: () => void): void {
  try {
    action();
  } catch (error) {
    log.warn({ err: error }, 'could not settle the message; the broker will redeliver it');
  }
}
