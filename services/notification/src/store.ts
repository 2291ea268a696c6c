import { randomUUID } from 'node:crypto';
import type { PageCursor } from '@ordermesh/grpc';
import { afterCursor, inTransaction, queryRows, raw, type Sql, sql } from '@ordermesh/storage';
import type pg from 'pg';
import { type OutgoingMessage, SEND_DEADLINE_MS } from './channels.js';
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

/** A send holds its transaction open, so the connection must let it wait for the slowest send allowed. */
export const DELIVERY_TRANSACTION_IDLE_MS = SEND_DEADLINE_MS + 5_000;

const RETURNED = raw(`id::text AS id, event_id::text AS "eventId", status::text AS status, recipient, subject, body`);

/**
 * The statement every first delivery runs, as a value: the store sends it, and the bench's
 * PostgreSQL ceiling (tools/bench/pg-ceiling.ts) sends the very same one.
 */
export const notificationStatements = {
  /** The notification, already SENT, unless one of the same event exists; see deliverInTransaction. */
  insertSent: (id: string, { eventId, userId, kind, channel, recipient, subject, body }: NewNotification): Sql =>
    sql`INSERT INTO notifications (id, event_id, user_id, kind, channel, recipient, subject, body, status, sent_at)
          VALUES (${id}::uuid, ${eventId}::uuid, ${userId}::uuid, ${kind}, ${channel}, ${recipient},
                  ${subject}, ${body}, 'SENT', now())
          ON CONFLICT (event_id) DO NOTHING
          RETURNING ${RETURNED}`,
};

interface LockedNotification {
  id: string;
  eventId: string;
  status: NotificationStatus;
  recipient: string;
  subject: string;
  body: string;
}

/** What is sent is what the record says, so the log shows exactly what went out. */
const messageOf = (row: LockedNotification): OutgoingMessage => ({
  id: row.eventId,
  to: row.recipient,
  subject: row.subject,
  text: row.body,
});

/**
 * Data access as everywhere (README, "Data access"): every statement is the
 * kit's `sql`, sent on the service's pool by `queryRows`; rows come back under
 * the field names of the Prisma schema's types.
 */
export class PostgresNotificationStore implements NotificationStore {
  constructor(private readonly pool: pg.Pool) {}

  async saveRecipient({ userId, email, displayName }: NewRecipient) {
    await queryRows(
      this.pool,
      sql`INSERT INTO recipients (user_id, email, display_name, updated_at)
          VALUES (${userId}::uuid, ${email}, ${displayName}, now())
          ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, display_name = excluded.display_name,
                                              updated_at = excluded.updated_at`,
    );
  }

  async findRecipient(userId: string) {
    const [recipient] = await queryRows<Recipient>(
      this.pool,
      sql`SELECT user_id::text AS "userId", email, display_name AS "displayName", updated_at AS "updatedAt"
            FROM recipients WHERE user_id = ${userId}::uuid`,
    );
    return recipient ?? null;
  }

  /**
   * The row lock makes a concurrent delivery of the same event wait until this
   * one commits, and then see SENT. Should the process die between the send
   * and the commit, the event is redelivered and sent again: at least once is
   * the best any mail relay allows.
   */
  async deliverOnce(notification: NewNotification, send: (message: OutgoingMessage) => Promise<void>) {
    // One transaction on one connection (kit database.ts).
    return inTransaction(this.pool, (connection) => this.deliverInTransaction(connection, notification, send));
  }

  private async deliverInTransaction(
    connection: pg.PoolClient,
    notification: NewNotification,
    send: (message: OutgoingMessage) => Promise<void>,
  ): Promise<boolean> {
    // The first delivery inserts the row already SENT and holds it locked until it commits, which it
    // does only after the send succeeded (a failed send rolls the row back): one round trip, no UPDATE.
    // sent_at is now(), the transaction's start, as an UPDATE in this transaction would have set it.
    const { eventId } = notification;
    const [first] = await queryRows<LockedNotification>(
      connection,
      notificationStatements.insertSent(randomUUID(), notification),
    );
    if (first) {
      await send(messageOf(first));
      return true;
    }
    // A repeat delivery waits here for the row lock of any delivery still in progress.
    const [row] = await queryRows<LockedNotification>(
      connection,
      sql`SELECT ${RETURNED} FROM notifications WHERE event_id = ${eventId}::uuid FOR UPDATE`,
    );
    if (!row) throw new Error(`notification of event ${eventId} vanished`);
    if (row.status === 'SENT') return false;
    // Every row this code commits is SENT; a PENDING one (written by other means) has not gone out.
    await send(messageOf(row));
    await queryRows(
      connection,
      sql`UPDATE notifications SET status = 'SENT', sent_at = now() WHERE id = ${row.id}::uuid`,
    );
    return true;
  }

  listNotifications(userId: string, limit: number, after?: PageCursor) {
    return queryRows<Notification>(
      this.pool,
      sql`SELECT n.id::text AS id, n.event_id::text AS "eventId", n.user_id::text AS "userId", n.kind, n.channel,
                 n.recipient, n.subject, n.body, n.status::text AS status, n.created_at AS "createdAt",
                 n.sent_at AS "sentAt"
            FROM notifications n
           WHERE n.user_id = ${userId}::uuid
                 ${afterCursor('n', after)}
           ORDER BY n.created_at DESC, n.id DESC
           LIMIT ${limit}::int`,
    );
  }
}
