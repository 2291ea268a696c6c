/**
 * Bare NotificationService's consumer: for each order and payment event, the
 * work NotificationService cannot leave out, with amqplib, pg and nodemailer
 * only. It looks up the user's address (remembered after the first read),
 * writes the notification row in a transaction that stays open until the mail
 * is out (a repeat of the same event inserts nothing and sends nothing), sends
 * the mail over pooled SMTP connections, commits and acknowledges. No
 * validation, metrics, spans, logs, retry queue or dead letters.
 */
import { randomUUID } from 'node:crypto';
import { OrderPlaced, PaymentSucceeded } from '@ordermesh/proto/events';
import { connect } from 'amqplib';
import { createTransport } from 'nodemailer';
import pg from 'pg';
import { required } from './common.ts';

const PREFETCH = 16;
const db = new pg.Pool({ connectionString: required('DATABASE_URL'), max: PREFETCH + 4 });
const mail = createTransport({ url: required('SMTP_URL'), pool: true, maxConnections: PREFETCH });
const FROM = 'ordermesh <no-reply@ordermesh.local>';

interface Recipient {
  email: string;
  name: string;
}
const recipients = new Map<string, Recipient>();

async function recipientOf(userId: string): Promise<Recipient> {
  const known = recipients.get(userId);
  if (known) return known;
  const { rows } = await db.query<Recipient>(
    'SELECT email, display_name AS name FROM recipients WHERE user_id = $1::uuid',
    [userId],
  );
  const recipient = rows[0];
  if (!recipient) throw new Error(`recipient ${userId} is not known yet`);
  recipients.set(userId, recipient);
  return recipient;
}

const formats = new Map<string, Intl.NumberFormat>();
function money(amount: { amountMinor: number; currency: string } | undefined): string {
  if (!amount) return 'an unknown amount';
  let format = formats.get(amount.currency);
  if (!format) {
    format = new Intl.NumberFormat('en-US', { style: 'currency', currency: amount.currency });
    formats.set(amount.currency, format);
  }
  return format.format(amount.amountMinor / 100);
}

function compose(routingKey: string, body: Buffer): { userId: string; subject: string; text: string } {
  if (routingKey === 'order.placed') {
    const { userId, orderId, total } = OrderPlaced.decode(body);
    return {
      userId,
      subject: `Order ${orderId} received`,
      text: `Thank you for your order ${orderId}: ${money(total)}.`,
    };
  }
  const { userId, orderId, amount } = PaymentSucceeded.decode(body);
  return {
    userId,
    subject: `Payment received for order ${orderId}`,
    text: `We have received your payment of ${money(amount)} for order ${orderId}.`,
  };
}

const INSERT_NOTIFICATION = `INSERT INTO notifications (id, event_id, user_id, kind, channel, recipient, subject, body, status, sent_at)
  VALUES ($1::uuid, $2::uuid, $3::uuid, $4, 'email', $5, $6, $7, 'SENT', now())
  ON CONFLICT (event_id) DO NOTHING RETURNING id`;

async function deliver(eventId: string, routingKey: string, body: Buffer): Promise<void> {
  const { userId, subject, text } = compose(routingKey, body);
  const recipient = await recipientOf(userId);
  const letter = `Hi ${recipient.name},\n\n${text}\n\nThe ordermesh team`;
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const inserted = await client.query(INSERT_NOTIFICATION, [
      randomUUID(),
      eventId,
      userId,
      routingKey,
      recipient.email,
      subject,
      letter,
    ]);
    if (inserted.rowCount) {
      await mail.sendMail({
        from: FROM,
        to: recipient.email,
        subject,
        text: letter,
        messageId: `<${eventId}@ordermesh.local>`,
      });
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

const connection = await connect(required('AMQP_URL'));
const channel = await connection.createChannel();
const exchange = required('EXCHANGE');
const queue = required('QUEUE');
await channel.assertExchange(exchange, 'topic', { durable: true });
await channel.assertQueue(queue, { durable: true });
for (const key of ['order.*', 'payment.*']) await channel.bindQueue(queue, exchange, key);
await channel.prefetch(PREFETCH);
let stopping = false;
await channel.consume(queue, (message) => {
  if (!message) return;
  const eventId = String(message.properties.messageId);
  deliver(eventId, message.fields.routingKey, message.content).then(
    () => stopping || channel.ack(message),
    // Back to the queue: the bench's runs have no failures to retry, so this only keeps an event from being lost.
    (error: unknown) => {
      if (stopping) return;
      console.error(`bare consumer: ${message.fields.routingKey} ${eventId}: ${String(error)}`);
      channel.nack(message, false, true);
    },
  );
});
process.on('SIGTERM', () => {
  // Unacknowledged events go back to the queue when the connection closes.
  stopping = true;
  mail.close();
  void Promise.allSettled([connection.close(), db.end()]).finally(() => process.exit(0));
});
process.send?.('ready');
