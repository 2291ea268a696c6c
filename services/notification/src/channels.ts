import { withTimeout } from '@ordermesh/messaging';
import type { Logger } from '@ordermesh/runtime';
import { createTransport } from 'nodemailer';
import { composePlainTextMail, parseSender, type Sender } from './plain-text-mail.js';

export interface OutgoingMessage {
  /** The same on every attempt to send this notification (its event's id), so a receiver can drop a repeat. */
  id: string;
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
  private readonly messageIdDomain: string;
  /** Undefined when MAIL_FROM is more than a simple address: then nodemailer composes every message. */
  private readonly sender: Sender | undefined;

  constructor(url: string, from: string, maxConnections: number) {
    this.transport = createTransport({ url, pool: true, maxConnections, ...SMTP_TIMEOUTS_MS }, { from });
    this.messageIdDomain = /@([^>\s]+)>?\s*$/.exec(from)?.[1] ?? 'ordermesh.local';
    this.sender = parseSender(from);
  }

  async send(message: OutgoingMessage): Promise<void> {
    const { id, ...mail } = message;
    // A Message-ID of our own, rather than a random one per attempt: a message sent again after a crash
    // carries the same ID, which mail systems use to drop duplicates.
    const messageId = `<${id}@${this.messageIdDomain}>`;
    const raw = this.sender && composePlainTextMail(this.sender, { ...mail, messageId, date: new Date() });
    // With a prebuilt message the Message-ID goes along too, or nodemailer would generate one it never sends.
    const sending = raw
      ? this.transport.sendMail({ raw, messageId, envelope: { from: this.sender?.address, to: mail.to } })
      : this.transport.sendMail({ ...mail, messageId });
    // The stage timeouts each restart on activity; this bounds the whole exchange.
    await withTimeout(sending, SEND_DEADLINE_MS, 'SMTP send did not finish in time');
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
