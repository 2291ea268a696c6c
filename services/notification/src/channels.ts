import { type Logger, withTimeout } from '@ordermesh/kit';
import { createTransport } from 'nodemailer';

export interface OutgoingMessage {
  to: string;
  subject: string;
  text: string;
}

/** A way of reaching a user. `name` is recorded on each notification, e.g. "email". */
export interface NotificationChannel {
  readonly name: string;
  send(message: OutgoingMessage): Promise<void>;
  close(): void;
}

/** Each stage of an SMTP exchange gives up after a few seconds, so a stuck server cannot hold a message for long. */
const SMTP_TIMEOUTS_MS = { connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 5_000 };

/** The longest any channel's send may take; the delivery transaction that wraps a send must outlast it. */
export const SEND_DEADLINE_MS = 15_000;

/**
 * Email through an SMTP relay over pooled connections: a new connection per
 * message cost more than the message. The pool has one connection per event
 * the consumer may hold (its prefetch), so a send never queues for a
 * connection inside the delivery transaction.
 */
export class SmtpChannel implements NotificationChannel {
  readonly name = 'email';
  private readonly transport;

  constructor(url: string, from: string, maxConnections: number) {
    this.transport = createTransport({ url, pool: true, maxConnections, ...SMTP_TIMEOUTS_MS }, { from });
  }

  async send(message: OutgoingMessage): Promise<void> {
    // The stage timeouts each restart on activity; this bounds the whole exchange.
    await withTimeout(this.transport.sendMail(message), SEND_DEADLINE_MS, 'SMTP send did not finish in time');
  }

  close(): void {
    this.transport.close();
  }
}

/** Writes each message to the structured log instead of sending it: for development and demos. */
export class LogChannel implements NotificationChannel {
  readonly name = 'log';

  constructor(private readonly log: Logger) {}

  async send(message: OutgoingMessage): Promise<void> {
    this.log.info({ notification: message }, 'notification');
  }

  close(): void {}
}
