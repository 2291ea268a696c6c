import { randomUUID } from 'node:crypto';
import { type OutboxRecord, outboxInsertCte } from '@ordermesh/messaging';
import { empty, queryOneRow, queryRows, raw, type Sql, sql } from '@ordermesh/storage';
import type pg from 'pg';
import type { Payment, PaymentMethod, PaymentStatus } from './generated/prisma/client.js';

export type { Payment, PaymentMethod, PaymentStatus };

export type NewPaymentMethod = Omit<PaymentMethod, 'id' | 'createdAt'>;
export type NewPayment = Pick<
  Payment,
  'orderId' | 'userId' | 'paymentMethodId' | 'amountMinor' | 'currency' | 'status' | 'chargeKey' | 'refundKey'
>;
/** A charge's new payment: PROCESSING, with the charge's idempotency key and the card it is charged to. */
export type NewCharge = Pick<
  Payment,
  'orderId' | 'userId' | 'paymentMethodId' | 'amountMinor' | 'currency' | 'chargeKey'
>;
/** What a charge needs of its card. */
export type ChargedMethod = Pick<PaymentMethod, 'id' | 'providerToken'>;
export interface StartedCharge {
  method: ChargedMethod;
  /** Null when nothing was inserted: a payment with the same order or charge key exists. */
  payment: Payment | null;
}
export interface PaymentChange {
  status: PaymentStatus;
  declineReason?: string;
  refundKey?: string;
}

/** PaymentService's data access. Inserts throw a unique violation when a concurrent duplicate got there first. */
export interface PaymentStore {
  findMethod(userId: string, id: string): Promise<PaymentMethod | null>;
  findMethodByKey(userId: string, idempotencyKey: string): Promise<PaymentMethod | null>;
  insertMethod(method: NewPaymentMethod): Promise<PaymentMethod>;
  listMethods(userId: string): Promise<PaymentMethod[]>;
  findPaymentByOrder(orderId: string): Promise<Payment | null>;
  findPaymentByRefundKey(refundKey: string): Promise<Payment | null>;
  insertPayment(payment: NewPayment): Promise<Payment>;
  /**
   * Reads the user's card and, only if it exists, inserts the charge's payment
   * unless a payment with the same order or charge key exists. Returns null
   * when the user has no such card.
   */
  startCharge(charge: NewCharge): Promise<StartedCharge | null>;
  /**
   * Moves a payment out of status `from` and records its event, in one
   * transaction. Returns the payment as it is afterwards, changed or not (a
   * concurrent caller may have moved it first).
   */
  transition(id: string, from: PaymentStatus, change: PaymentChange, event?: OutboxRecord): Promise<Payment>;
}

/**
 * Data access as everywhere (README, "Data access"): every statement is the
 * kit's `sql`, sent on the service's pool by `queryRows`; rows come back under
 * the field names of the Prisma schema's types.
 */
export class PostgresPaymentStore implements PaymentStore {
  constructor(private readonly pool: pg.Pool) {}

  findMethod(userId: string, id: string) {
    return this.findMethodWhere(sql`m.id = ${id}::uuid AND m.user_id = ${userId}::uuid`);
  }

  findMethodByKey(userId: string, idempotencyKey: string) {
    return this.findMethodWhere(sql`m.user_id = ${userId}::uuid AND m.idempotency_key = ${idempotencyKey}`);
  }

  /** Throws a unique violation when the user already has a card under this key. */
  insertMethod(method: NewPaymentMethod) {
    return queryOneRow<PaymentMethod>(
      this.pool,
      sql`
      WITH m AS (
        INSERT INTO payment_methods (id, user_id, idempotency_key, provider_token, brand, last4, exp_month, exp_year,
                                     holder_name)
        VALUES (${randomUUID()}::uuid, ${method.userId}::uuid, ${method.idempotencyKey}, ${method.providerToken},
                ${method.brand}, ${method.last4}, ${method.expMonth}::int, ${method.expYear}::int, ${method.holderName})
        RETURNING *)
      SELECT ${METHOD_COLUMNS} FROM m`,
    );
  }

  listMethods(userId: string) {
    return queryRows<PaymentMethod>(
      this.pool,
      sql`SELECT ${METHOD_COLUMNS} FROM payment_methods m
           WHERE m.user_id = ${userId}::uuid ORDER BY m.created_at DESC LIMIT 100`,
    );
  }

  findPaymentByOrder(orderId: string) {
    return this.findPayment(sql`p.order_id = ${orderId}::uuid`);
  }

  findPaymentByRefundKey(refundKey: string) {
    return this.findPayment(sql`p.refund_key = ${refundKey}`);
  }

  /** Throws a unique violation when the order (or the charge key) already has a payment. */
  async insertPayment(payment: NewPayment) {
    const created = await queryOneRow<PaymentRow>(
      this.pool,
      sql`
      WITH p AS (
        INSERT INTO payments (id, order_id, user_id, payment_method_id, amount_minor, currency, status, charge_key,
                              refund_key, updated_at)
        VALUES (${randomUUID()}::uuid, ${payment.orderId}::uuid, ${payment.userId}::uuid,
                ${payment.paymentMethodId}::uuid, ${payment.amountMinor}, ${payment.currency},
                ${payment.status}::"PaymentStatus", ${payment.chargeKey}, ${payment.refundKey}, now())
        RETURNING *)
      SELECT ${PAYMENT_COLUMNS} FROM p`,
    );
    return toPayment(created);
  }

  /** The card a unique condition picks. */
  private async findMethodWhere(condition: Sql) {
    const [method] = await queryRows<PaymentMethod>(
      this.pool,
      sql`SELECT ${METHOD_COLUMNS} FROM payment_methods m WHERE ${condition}`,
    );
    return method ?? null;
  }

  /** The payment a unique condition picks. */
  private async findPayment(condition: Sql) {
    const [row] = await queryRows<PaymentRow>(
      this.pool,
      sql`SELECT ${PAYMENT_COLUMNS} FROM payments p WHERE ${condition}`,
    );
    return row ? toPayment(row) : null;
  }

  /**
   * One statement, so one round trip: the card read and the insert. ON CONFLICT lets
   * the unique indexes (order, charge key) tell a repeat from a new charge without an
   * exception. The payment columns are NULL when nothing was inserted (LEFT JOIN).
   */
  async startCharge(charge: NewCharge) {
    const [row] = await queryRows<StartChargeRow>(this.pool, paymentStatements.startCharge(randomUUID(), charge));
    if (!row) return null;
    const { methodId, providerToken, ...payment } = row;
    // The LEFT JOIN's NULLs mean no row; otherwise every column is as stored.
    return {
      method: { id: methodId, providerToken },
      payment: payment.id === null ? null : toPayment(payment as PaymentRow),
    };
  }

  /**
   * One statement, so one round trip and one implicit transaction: the conditional
   * update and, only when it happened, its outbox event. When nothing changed the
   * payment is read again, so the caller sees what the concurrent winner wrote.
   */
  async transition(id: string, from: PaymentStatus, change: PaymentChange, event?: OutboxRecord) {
    const rows = await queryRows<PaymentRow>(this.pool, paymentStatements.transition(id, from, change, event));
    const [row] = rows;
    if (row) return toPayment(row);
    const current = await this.findPayment(sql`p.id = ${id}::uuid`);
    if (!current) throw new Error(`payment ${id} does not exist`);
    return current;
  }
}

/**
 * The statements every charge runs, as values: the store sends them, and the bench's PostgreSQL
 * ceiling (tools/bench/pg-ceiling.ts) sends the very same ones.
 */
export const paymentStatements = {
  /** The card read and, when the card is the user's, the PROCESSING payment; see startCharge. */
  startCharge: (paymentId: string, charge: NewCharge): Sql =>
    sql`
      WITH m AS (
        SELECT id, provider_token FROM payment_methods
         WHERE id = ${charge.paymentMethodId}::uuid AND user_id = ${charge.userId}::uuid),
      p AS (
        INSERT INTO payments (id, order_id, user_id, payment_method_id, amount_minor, currency, status, charge_key,
                              updated_at)
        SELECT ${paymentId}::uuid, ${charge.orderId}::uuid, ${charge.userId}::uuid, m.id, ${charge.amountMinor},
               ${charge.currency}, 'PROCESSING', ${charge.chargeKey}, now()
          FROM m
        ON CONFLICT DO NOTHING
        RETURNING *)
      SELECT m.id::text AS "methodId", m.provider_token AS "providerToken", ${PAYMENT_COLUMNS}
        FROM m LEFT JOIN p ON true`,
  /** The conditional status change and, when given, its event; no row when the payment was not in `from`. */
  transition: (id: string, from: PaymentStatus, change: PaymentChange, event?: OutboxRecord): Sql =>
    sql`
      WITH p AS (
        UPDATE payments
           SET status = ${change.status}::"PaymentStatus",
               decline_reason = COALESCE(${change.declineReason ?? null}::text, decline_reason),
               refund_key = COALESCE(${change.refundKey ?? null}::text, refund_key),
               updated_at = now()
         WHERE id = ${id}::uuid AND status = ${from}::"PaymentStatus"
        RETURNING *)${event ? sql`, ${outboxInsertCte(event, 'p')}` : empty}
      SELECT ${PAYMENT_COLUMNS} FROM p`,
};

/** A payment as pg returns it: the bigint amount as text, which BigInt() reads without losing precision. */
type PaymentRow = Omit<Payment, 'amountMinor'> & { amountMinor: string };
type StartChargeRow = { methodId: string; providerToken: string } & { [F in keyof PaymentRow]: PaymentRow[F] | null };

const toPayment = (row: PaymentRow): Payment => ({ ...row, amountMinor: BigInt(row.amountMinor) });

/** The payment_methods columns under their Prisma field names, from a row source aliased `m`. */
const METHOD_COLUMNS = raw(`m.id::text AS id, m.user_id::text AS "userId", m.idempotency_key AS "idempotencyKey",
  m.provider_token AS "providerToken", m.brand, m.last4, m.exp_month AS "expMonth", m.exp_year AS "expYear",
  m.holder_name AS "holderName", m.created_at AS "createdAt"`);

/** The payments columns under their Prisma field names, from a row source aliased `p`. */
const PAYMENT_COLUMNS = raw(`p.id::text AS id, p.order_id::text AS "orderId", p.user_id::text AS "userId",
  p.payment_method_id::text AS "paymentMethodId", p.amount_minor AS "amountMinor", p.currency, p.status::text AS status,
  p.decline_reason AS "declineReason", p.charge_key AS "chargeKey", p.refund_key AS "refundKey",
  p.created_at AS "createdAt", p.updated_at AS "updatedAt"`);
