/**
 * Reading and re-driving the dead-letter queue of an EventConsumer
 * (`<queue>.dead`). Listing never takes a message away; re-driving acks a
 * dead letter only once the broker has confirmed its re-publication.
 */
import { DEAD_LETTER_HEADERS, queueNames, withTimeout } from '@ordermesh/messaging';
import type { Channel, ConfirmChannel, GetMessage } from 'amqplib';

export interface DeadLetter {
  messageId: string;
  routingKey: string;
  /** Where a re-drive publishes it. */
  exchange: string;
  reason: string;
  attempts: number;
  /** When its first delivery failed (ISO 8601), or '' when nothing recorded it. */
  firstFailedAt: string;
  deadAt: string;
  /** Trips through the broker's dead-lettering (retry queues, rejections), from x-death. */
  brokerDeaths: number;
  bytes: number;
}

/** The dead-letter queue of a consumer queue; a name already ending in ".dead" is taken as is. */
export const deadLetterQueueOf = (queue: string) =>
  queue.endsWith('.dead') ? queue : queueNames(queue).deadLetterQueue;

interface XDeathEntry {
  count?: number;
  reason?: string;
  exchange?: string;
  time?: { value?: number } | number;
}

const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));

/** x-death timestamps arrive as AMQP timestamps ({ '!': 'timestamp', value: seconds }). */
function isoFromAmqpTime(time: XDeathEntry['time']): string {
  const seconds = typeof time === 'number' ? time : time?.value;
  return typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : '';
}

/** What a dead letter says about itself, from the consumer's headers and the broker's x-death history. */
export function describeDeadLetter(message: GetMessage, fallbackExchange: string): DeadLetter {
  const headers = message.properties.headers ?? {};
  const deaths = (Array.isArray(headers['x-death']) ? headers['x-death'] : []) as XDeathEntry[];
  // x-death lists the most recent death first.
  const oldest = deaths.at(-1);
  return {
    messageId: text(message.properties.messageId),
    routingKey: text(headers[DEAD_LETTER_HEADERS.routingKey] ?? message.fields.routingKey),
    exchange: text(headers[DEAD_LETTER_HEADERS.exchange] || headers['x-first-death-exchange'] || fallbackExchange),
    reason: text(headers[DEAD_LETTER_HEADERS.reason] ?? (oldest ? `broker: ${text(oldest.reason)}` : 'unknown')),
    attempts: Number(headers[DEAD_LETTER_HEADERS.attempts] ?? 1),
    firstFailedAt: text(headers[DEAD_LETTER_HEADERS.firstFailedAt]) || isoFromAmqpTime(oldest?.time),
    deadAt: text(headers[DEAD_LETTER_HEADERS.deadAt]),
    brokerDeaths: deaths.reduce((sum, death) => sum + Number(death.count ?? 1), 0),
    bytes: message.content.length,
  };
}

/**
 * Up to `limit` dead letters, oldest first, left in the queue: they are
 * fetched unacknowledged and handed back when done.
 */
export async function listDeadLetters(
  channel: Channel,
  queue: string,
  limit: number,
  fallbackExchange: string,
): Promise<{ total: number; letters: DeadLetter[] }> {
  const deadQueue = deadLetterQueueOf(queue);
  const { messageCount } = await channel.checkQueue(deadQueue);
  const letters: DeadLetter[] = [];
  try {
    for (let i = 0; i < Math.min(limit, messageCount); i += 1) {
      const message = await channel.get(deadQueue, { noAck: false });
      if (!message) break;
      letters.push(describeDeadLetter(message, fallbackExchange));
    }
  } finally {
    // Every fetched message goes back where it was.
    channel.nackAll(true);
  }
  return { total: messageCount, letters };
}

/**
 * Consumer bookkeeping a re-driven event must not carry: it starts again with
 * a fresh set of retries. The broker's x-death history stays.
 */
const RESET_ON_REDRIVE = new Set<string>([...Object.values(DEAD_LETTER_HEADERS), 'x-ordermesh-last-error']);

const CONFIRM_TIMEOUT_MS = 10_000;

export interface RedriveResult {
  redriven: DeadLetter[];
  /** Set when a publication failed: that letter and the rest stay in the queue. */
  error?: string;
}

/**
 * Re-publishes up to `limit` dead letters to the exchange and routing key
 * they were first published with, one at a time: publish, wait for the
 * broker's confirm, then ack the dead letter. A failure stops the run with
 * the letter still in the queue, so nothing is lost or sent twice by the
 * tool (consumers dedupe by event id anyway). Letters that die again while
 * this runs are not picked up twice: it takes at most the count it started with.
 */
export async function redriveDeadLetters(
  channel: ConfirmChannel,
  queue: string,
  limit: number,
  fallbackExchange: string,
): Promise<RedriveResult> {
  const deadQueue = deadLetterQueueOf(queue);
  const { messageCount } = await channel.checkQueue(deadQueue);
  const redriven: DeadLetter[] = [];
  for (let i = 0; i < Math.min(limit, messageCount); i += 1) {
    const message = await channel.get(deadQueue, { noAck: false });
    if (!message) break;
    const letter = describeDeadLetter(message, fallbackExchange);
    const headers = Object.fromEntries(
      Object.entries(message.properties.headers ?? {}).filter(([key]) => !RESET_ON_REDRIVE.has(key)),
    );
    const redrives = Number(headers['x-ordermesh-redrives'] ?? 0) + 1;
    try {
      channel.publish(letter.exchange, letter.routingKey, message.content, {
        persistent: true,
        messageId: message.properties.messageId,
        type: message.properties.type,
        contentType: message.properties.contentType,
        timestamp: message.properties.timestamp,
        headers: { ...headers, 'x-ordermesh-redrives': redrives, 'x-ordermesh-redriven-at': new Date().toISOString() },
      });
      await withTimeout(channel.waitForConfirms(), CONFIRM_TIMEOUT_MS, 'the broker did not confirm in time');
    } catch (error) {
      try {
        channel.nack(message, false, true);
      } catch {
        // The channel closed (the broker refused the publication): unacked, the letter is back in its queue.
      }
      return { redriven, error: `${letter.messageId}: ${(error as Error).message}` };
    }
    channel.ack(message);
    redriven.push(letter);
  }
  return { redriven };
}

export interface Command {
  action: 'list' | 'redrive';
  queue: string;
  limit: number;
  json: boolean;
}

export const USAGE = `usage: npm run dead-letters -- list|redrive [--queue <consumer queue>] [--limit N] [--json]
  list      shows dead letters (routing key, reason, attempts, first failure, message id); takes nothing away
  redrive   re-publishes them to their original exchange and routing key, acking each only once confirmed
  --queue   the consumer's queue (its dead letters are in <queue>.dead); default $NOTIFICATION_QUEUE or notification.events
  --limit   at most N letters (default: 50 for list, all for redrive)
  --json    one JSON object instead of a table
environment: AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), EVENTS_EXCHANGE (used when a letter does not say)`;

/** Parses the command line; throws an Error naming what is wrong. */
export function parseCommand(args: readonly string[], env: NodeJS.ProcessEnv): Command {
  const [action, ...rest] = args;
  if (action !== 'list' && action !== 'redrive') {
    throw new Error(`unknown command ${JSON.stringify(action ?? '')}: expected list or redrive`);
  }
  const command: Command = {
    action,
    queue: env.NOTIFICATION_QUEUE || 'notification.events',
    limit: action === 'list' ? 50 : Number.MAX_SAFE_INTEGER,
    json: false,
  };
  for (let i = 0; i < rest.length; i += 1) {
    const flag = rest[i];
    const value = rest[i + 1];
    if (flag === '--json') {
      command.json = true;
    } else if (flag === '--queue') {
      if (!value || value.startsWith('--')) throw new Error('--queue needs a queue name');
      command.queue = value;
      i += 1;
    } else if (flag === '--limit') {
      const limit = Number(value);
      if (!Number.isInteger(limit) || limit < 1) throw new Error(`--limit ${value ?? ''}: must be a whole number >= 1`);
      command.limit = limit;
      i += 1;
    } else {
      throw new Error(`unknown option ${JSON.stringify(flag)}`);
    }
  }
  return command;
}

/** A plain-text table of dead letters for a terminal. */
export function formatTable(letters: readonly DeadLetter[]): string {
  const rows = [
    ['MESSAGE ID', 'ROUTING KEY', 'ATTEMPTS', 'FIRST FAILED', 'REASON'],
    ...letters.map((l) => [l.messageId, l.routingKey, String(l.attempts), l.firstFailedAt, l.reason]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((r) => r[column]?.length ?? 0)));
  return rows
    .map((row) =>
      row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths?.[column] ?? 0))).join('  '),
    )
    .join('\n');
}
