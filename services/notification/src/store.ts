import { randomUUID } from 'node:crypto';
import type { PageCursor } from '@ordermesh/grpc';
import { afterCursor, inTransaction, queryRows, raw, type Sql, sql } from '@ordermesh/storage';
import type pg from 'pg';
import { Batcher } from './batcher.js';
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

/** A batch holds its transaction open across its sends, so the connection must let it wait for the slowest send allowed. */
export const DELIVERY_TRANSACTION_IDLE_MS = SEND_DEADLINE_MS + 5_000;

/**
 * Delivery transactions open at once; each holds a connection. Deliveries that
 * come while all are open share the next one, so its BEGIN, INSERT and COMMIT
 * serve a whole batch: at 64 orders in flight, 0.9 round trips per order
 * instead of 4.5 (docs/performance-history.md).
 */
export const DELIVERY_BATCHES_IN_FLIGHT = 4;

/** NotificationService's pool: a connection per delivery batch, and a few for the recipients and the RPCs. */
export const NOTIFICATION_POOL_SIZE = DELIVERY_BATCHES_IN_FLIGHT + 4;

const RETURNED = raw(`id::text AS id, event_id::text AS "eventId", status::text AS status, recipient, subject, body`);

/** A notification to record, with the id its row gets. */
type NotificationRow = NewNotification & { id: string };

/**
 * The notifications, already SENT, but for those whose event has one already, in the given order
 * (so two batches take their row locks in the same order); see deliverBatch.
 */
function insertSent(rows: readonly NotificationRow[]): Sql {
  const column = (pick: (row: NotificationRow) => string) => rows.map(pick);
  return sql`INSERT INTO notifications (id, event_id, user_id, kind, channel, recipient, subject, body, status, sent_at)
        SELECT d.id, d.event_id, d.user_id, d.kind, d.channel, d.recipient, d.subject, d.body, 'SENT', now()
          FROM unnest(${column((row) => row.id)}::uuid[], ${column((row) => row.eventId)}::uuid[],
                      ${column((row) => row.userId)}::uuid[], ${column((row) => row.kind)}::text[],
                      ${column((row) => row.channel)}::text[], ${column((row) => row.recipient)}::text[],
                      ${column((row) => row.subject)}::text[], ${column((row) => row.body)}::text[])
               AS d(id, event_id, user_id, kind, channel, recipient, subject, body)
        ON CONFLICT (event_id) DO NOTHING
        RETURNING ${RETURNED}`;
}

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

interface Delivery {
  notification: NewNotification;
  send: (message: OutgoingMessage) => Promise<void>;
}

/** A delivery's row in its batch: inserted by the batch, or found PENDING or SENT by an earlier delivery. */
interface Sending {
  row: LockedNotification;
  was: 'inserted' | 'pending' | 'sent';
}

/** Deliveries per transaction at most; the consumer's prefetch (32 by default) bounds them first. */
const MAX_BATCH_SIZE = 64;

/**
 * Data access as everywhere (README, "Data access"): every statement is the
 * kit's `sql`, sent on the service's pool by `queryRows`; rows come back under
 * the field names of the Prisma schema's types.
 */
export class PostgresNotificationStore implements NotificationStore {
  private readonly deliveries: Batcher<Delivery, boolean>;

  constructor(
    private readonly pool: pg.Pool,
    batchesInFlight = DELIVERY_BATCHES_IN_FLIGHT,
  ) {
    this.deliveries = new Batcher((batch) => this.deliverBatch(batch), {
      concurrency: batchesInFlight,
      maxSize: MAX_BATCH_SIZE,
      keyOf: (delivery) => delivery.notification.eventId,
    });
  }

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
  deliverOnce(notification: NewNotification, send: (message: OutgoingMessage) => Promise<void>) {
    return this.deliveries.submit({ notification, send });
  }

  /**
   * One transaction for the batch (kit database.ts), on one connection. A first delivery inserts its
   * row already SENT and holds it locked until the commit, which comes after every send of the batch
   * has ended; a failed send deletes its row before the commit, as a rollback would, so the next
   * delivery of that event sends. One INSERT for the whole batch, no UPDATE. sent_at is now(),
   * the transaction's start. The Batcher puts no event twice in one batch.
   */
  private deliverBatch(batch: Delivery[]): Promise<PromiseSettledResult<boolean>[]> {
    return inTransaction(this.pool, async (connection) => {
      const rows = batch.map(({ notification }) => ({ id: randomUUID(), ...notification }));
      // In event id order, so two batches that share an event take their locks in the same order.
      rows.sort((a, b) => (a.eventId < b.eventId ? -1 : 1));
      const first = await queryRows<LockedNotification>(connection, insertSent(rows));
      const rowOf = new Map<string, Sending>(first.map((row) => [row.eventId, { row, was: 'inserted' }]));
      const repeated = batch.map(({ notification }) => notification.eventId).filter((id) => !rowOf.has(id));
      if (repeated.length > 0) {
        // A repeat delivery waits here for the row locks of any delivery still in progress.
        const found = await queryRows<LockedNotification>(
          connection,
          sql`SELECT ${RETURNED} FROM notifications WHERE event_id = ANY(${repeated}::uuid[]) ORDER BY event_id FOR UPDATE`,
        );
        // Every row this code commits is SENT; a PENDING one (written by other means) has not gone out.
        for (const row of found) rowOf.set(row.eventId, { row, was: row.status === 'SENT' ? 'sent' : 'pending' });
      }
      const outcomes = await Promise.allSettled(
        batch.map(async ({ notification, send }) => {
          const sending = rowOf.get(notification.eventId);
          if (!sending) throw new Error(`notification of event ${notification.eventId} vanished`);
          if (sending.was === 'sent') return false;
          await send(messageOf(sending.row));
          return true;
        }),
      );
      // A first send that failed loses its row, as a rollback would; a PENDING row that went out becomes SENT.
      const unsent: string[] = [];
      const nowSent: string[] = [];
      batch.forEach(({ notification }, index) => {
        const sending = rowOf.get(notification.eventId);
        const sent = outcomes[index]?.status === 'fulfilled';
        if (sending?.was === 'inserted' && !sent) unsent.push(sending.row.id);
        if (sending?.was === 'pending' && sent) nowSent.push(sending.row.id);
      });
      if (unsent.length > 0)
        await queryRows(connection, sql`DELETE FROM notifications WHERE id = ANY(${unsent}::uuid[])`);
      if (nowSent.length > 0) {
        await queryRows(
          connection,
          sql`UPDATE notifications SET status = 'SENT', sent_at = now() WHERE id = ANY(${nowSent}::uuid[])`,
        );
      }
      return outcomes;
    });
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
