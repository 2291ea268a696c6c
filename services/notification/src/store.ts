import type { PageCursor } from '@ordermesh/kit';
import { type OutgoingMessage, SEND_DEADLINE_MS } from './channels.js';
import type { Database } from './db.js';
import type { Notification, NotificationStatus, Recipient } from './generated/prisma/client.js';

export type { Notification, NotificationStatus, Recipient };

export type NewRecipient = Omit<Recipient, 'updatedAt'>;
export type NewNotification = Pick<
  Notification,
  'eventId' | 'userId' | 'kind' | 'channel' | 'recipient' | 'subject' | 'body'
>;

/** NotificationService's data access. */
export interface NotificationStore {
  saveRecipient(recipient: NewRecipient): Promise<void>;
  findRecipient(userId: string): Promise<Recipient | null>;
  /**
   * Records the notification of an event and sends it once: returns false,
   * without sending, when an earlier delivery of the same event did. What is
   * sent is what the record says, so the log shows exactly what went out.
   */
  deliverOnce(notification: NewNotification, send: (message: OutgoingMessage) => Promise<void>): Promise<boolean>;
  /** Newest first, starting after `after` when given. */
  listNotifications(userId: string, limit: number, after?: PageCursor): Promise<Notification[]>;
}

/** A send holds its transaction open, so the transaction must outlive the slowest send allowed. */
const DELIVERY_TRANSACTION_TIMEOUT_MS = SEND_DEADLINE_MS + 5_000;

interface LockedNotification {
  id: string;
  status: NotificationStatus;
  recipient: string;
  subject: string;
  body: string;
}

export class PrismaNotificationStore implements NotificationStore {
  constructor(private readonly db: Database) {}

  async saveRecipient(recipient: NewRecipient) {
    const { userId, ...contact } = recipient;
    await this.db.recipient.upsert({ where: { userId }, create: recipient, update: contact });
  }

  findRecipient(userId: string) {
    return this.db.recipient.findUnique({ where: { userId } });
  }

  /**
   * The row lock makes a concurrent delivery of the same event wait until this
   * one commits, and then see SENT. Should the process die between the send
   * and the commit, the event is redelivered and sent again: at least once is
   * the best any mail relay allows.
   */
  deliverOnce(notification: NewNotification, send: (message: OutgoingMessage) => Promise<void>) {
    return this.db.$transaction(
      async (tx) => {
        await tx.notification.createMany({ data: [{ ...notification, status: 'PENDING' }], skipDuplicates: true });
        const [row] = await tx.$queryRaw<LockedNotification[]>`
          SELECT id::text AS id, status::text AS status, recipient, subject, body
            FROM notifications WHERE event_id = ${notification.eventId}::uuid FOR UPDATE`;
        if (!row) throw new Error(`notification of event ${notification.eventId} vanished`);
        if (row.status === 'SENT') return false;
        await send({ to: row.recipient, subject: row.subject, text: row.body });
        await tx.notification.update({ where: { id: row.id }, data: { status: 'SENT', sentAt: new Date() } });
        return true;
      },
      { timeout: DELIVERY_TRANSACTION_TIMEOUT_MS },
    );
  }

  listNotifications(userId: string, limit: number, after?: PageCursor) {
    return this.db.notification.findMany({
      where: {
        userId,
        ...(after && {
          // The redundant `lte` gives the (user_id, created_at, id) index a place to start.
          createdAt: { lte: after.createdAt },
          OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
        }),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
    });
  }
}
