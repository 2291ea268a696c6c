import { randomUUID } from 'node:crypto';
import type { PageCursor } from '@ordermesh/grpc';
import { type OutboxRecord, outboxInsertCte } from '@ordermesh/messaging';
import { afterCursor, empty, queryRows, raw, type Sql, sql } from '@ordermesh/storage';
import type pg from 'pg';
import type { OrderStatus, Prisma, Product } from './generated/prisma/client.js';
import type { PricedItem } from './pricing.js';

export type OrderWithItems = Prisma.OrderGetPayload<{ include: { items: true } }>;
export type { OrderStatus, Product };

export interface NewOrder {
  userId: string;
  idempotencyKey: string;
  requestHash: string;
  currency: string;
  totalMinor: bigint;
  paymentMethodId: string;
  items: PricedItem[];
  /** Not before this will the settlement worker try to charge the order. */
  nextPaymentAttemptAt: Date;
}

export interface OrderChange {
  status: OrderStatus;
  statusReason: string;
}

/** OrderService's data access. */
export interface OrderStore {
  listProducts(): Promise<Product[]>;
  findOrder(id: string): Promise<OrderWithItems | null>;
  findOrderByKey(userId: string, idempotencyKey: string): Promise<OrderWithItems | null>;
  /**
   * Inserts the order, its items and its event in one transaction. Returns null,
   * inserting nothing, when the user already has an order with this idempotency key.
   */
  insertOrder(order: NewOrder, event: (orderId: string) => OutboxRecord): Promise<OrderWithItems | null>;
  /** Changes the status only if it is one of `from`; returns the order as it is afterwards. */
  transition(
    id: string,
    from: readonly OrderStatus[],
    change: OrderChange,
    event?: OutboxRecord,
  ): Promise<OrderWithItems>;
  /** Newest first, starting after `after` when given. */
  listOrders(userId: string, limit: number, after?: PageCursor): Promise<OrderWithItems[]>;
  /**
   * Takes up to `limit` pending orders that are due for a charge attempt and
   * moves their next attempt `retryMs` ahead, so that other instances skip them.
   */
  claimDueSettlements(limit: number, retryMs: number): Promise<string[]>;
}

/**
 * Data access as everywhere (README, "Data access"): every statement is the
 * kit's `sql`, sent on the service's pool by `queryRows`; rows come back under
 * the field names of the Prisma schema's types.
 */
export class PostgresOrderStore implements OrderStore {
  constructor(private readonly pool: pg.Pool) {}

  async listProducts() {
    const rows = await queryRows<ProductRow>(
      this.pool,
      sql`SELECT sku, name, price_minor AS "priceMinor", currency, active
            FROM products WHERE active ORDER BY sku`,
    );
    return rows.map((row) => ({ ...row, priceMinor: BigInt(row.priceMinor) }));
  }

  findOrder(id: string) {
    return this.findOne(sql`o.id = ${id}::uuid`);
  }

  findOrderByKey(userId: string, idempotencyKey: string) {
    return this.findOne(sql`o.user_id = ${userId}::uuid AND o.idempotency_key = ${idempotencyKey}`);
  }

  /** The order a unique condition picks, with its items. */
  private async findOne(condition: Sql) {
    const [row] = await queryRows<OrderRow>(
      this.pool,
      sql`
      SELECT ${ORDER_COLUMNS},
             (SELECT ${ITEMS_JSON} FROM order_items i WHERE i.order_id = o.id) AS items
        FROM orders o
       WHERE ${condition}`,
    );
    return row ? toOrder(row) : null;
  }

  /**
   * One statement, so one round trip and one implicit transaction: the order, its
   * items and its outbox event are written together or not at all. ON CONFLICT lets
   * the unique (user, key) index tell a retry from a new order without an exception.
   */
  async insertOrder(order: NewOrder, event: (orderId: string) => OutboxRecord) {
    const id = randomUUID();
    const [row] = await queryRows<OrderRow>(this.pool, orderStatements.insert(id, order, event(id)));
    return row ? toOrder(row) : null;
  }

  /**
   * One statement: the conditional update and its event. When nothing changed (another
   * caller moved the order first) the order is read again, so the caller sees the latest.
   */
  async transition(id: string, from: readonly OrderStatus[], change: OrderChange, event?: OutboxRecord) {
    const rows = await queryRows<OrderRow>(this.pool, orderStatements.transition(id, from, change, event));
    const [row] = rows;
    if (row) return toOrder(row);
    const current = await this.findOrder(id);
    if (!current) throw new Error(`order ${id} does not exist`);
    return current;
  }

  /**
   * One statement, items included as JSON: Prisma's `include` made it two round trips.
   * The row comparison is a range on the (user_id, created_at DESC, id DESC) index, so a
   * page costs the same on a user's first order as on their hundred-thousandth.
   */
  async listOrders(userId: string, limit: number, after?: PageCursor) {
    const rows = await queryRows<OrderRow>(
      this.pool,
      sql`
      SELECT ${ORDER_COLUMNS},
             (SELECT ${ITEMS_JSON} FROM order_items i WHERE i.order_id = o.id) AS items
        FROM orders o
       WHERE o.user_id = ${userId}::uuid
             ${afterCursor('o', after)}
       ORDER BY o.created_at DESC, o.id DESC
       LIMIT ${limit}`,
    );
    return rows.map(toOrder);
  }

  async claimDueSettlements(limit: number, retryMs: number) {
    const rows = await queryRows<{ id: string }>(
      this.pool,
      sql`
      UPDATE orders
         SET next_payment_attempt_at = now() + make_interval(secs => ${retryMs / 1000}::float8),
             payment_attempts = payment_attempts + 1
       WHERE id IN (SELECT id FROM orders
                     WHERE status = 'PENDING_PAYMENT' AND next_payment_attempt_at <= now()
                     ORDER BY next_payment_attempt_at LIMIT ${limit}::int
                     FOR UPDATE SKIP LOCKED)
      RETURNING id::text AS id`,
    );
    return rows.map((row) => row.id);
  }
}

/**
 * The statements every order runs, as values: the store sends them, and the bench's PostgreSQL
 * ceiling (tools/bench/pg-ceiling.ts) sends the very same ones.
 */
export const orderStatements = {
  /** The order, its items (one unnest insert, in order) and its event; no row when the key was used. */
  insert: (id: string, order: NewOrder, event: OutboxRecord): Sql => {
    const { items } = order;
    return sql`
      WITH o AS (
        INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, total_minor,
                            payment_method_id, next_payment_attempt_at, updated_at)
        VALUES (${id}::uuid, ${order.userId}::uuid, ${order.idempotencyKey}, ${order.requestHash}, 'PENDING_PAYMENT',
                ${order.currency}, ${order.totalMinor}, ${order.paymentMethodId}::uuid, ${order.nextPaymentAttemptAt}, now())
        ON CONFLICT (user_id, idempotency_key) DO NOTHING
        RETURNING *),
      i AS (
        INSERT INTO order_items (order_id, sku, name, quantity, unit_price_minor)
        SELECT o.id, item.sku, item.name, item.quantity, item.unit_price_minor
          FROM o, unnest(${items.map((item) => item.sku)}::text[], ${items.map((item) => item.name)}::text[],
                         ${items.map((item) => item.quantity)}::int[], ${items.map((item) => item.unitPriceMinor)}::bigint[])
                  WITH ORDINALITY AS item(sku, name, quantity, unit_price_minor, position)
         ORDER BY item.position
        RETURNING *),
      ${outboxInsertCte(event, 'o')}
      SELECT ${ORDER_COLUMNS}, (SELECT ${ITEMS_JSON} FROM i) AS items FROM o`;
  },
  /** The conditional status change and, when given, its event; no row when the order was not in `from`. */
  transition: (id: string, from: readonly OrderStatus[], change: OrderChange, event?: OutboxRecord): Sql =>
    sql`
      WITH o AS (
        UPDATE orders
           SET status = ${change.status}::"OrderStatus", status_reason = ${change.statusReason},
               next_payment_attempt_at = NULL, updated_at = now()
         WHERE id = ${id}::uuid AND status = ANY(${[...from]}::"OrderStatus"[])
        RETURNING *)${event ? sql`, ${outboxInsertCte(event, 'o')}` : empty}
      SELECT ${ORDER_COLUMNS},
             (SELECT ${ITEMS_JSON} FROM order_items i WHERE i.order_id = o.id) AS items
        FROM o`,
};

/** The orders columns under their Prisma field names, from a row source aliased `o`. */
const ORDER_COLUMNS = raw(`o.id::text AS id, o.user_id::text AS "userId", o.idempotency_key AS "idempotencyKey",
  o.request_hash AS "requestHash", o.status::text AS status, o.status_reason AS "statusReason", o.currency,
  o.total_minor AS "totalMinor", o.payment_method_id::text AS "paymentMethodId",
  o.next_payment_attempt_at AS "nextPaymentAttemptAt", o.payment_attempts AS "paymentAttempts",
  o.created_at AS "createdAt", o.updated_at AS "updatedAt"`);

/** The items of a row source aliased `i` as a JSON array, ids ascending; bigints as text so none loses precision. */
const ITEMS_JSON = raw(`COALESCE(json_agg(json_build_object(
  'id', i.id::text, 'orderId', i.order_id::text, 'sku', i.sku, 'name', i.name,
  'quantity', i.quantity, 'unitPriceMinor', i.unit_price_minor::text) ORDER BY i.id), '[]'::json)`);

interface ItemJson {
  id: string;
  orderId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPriceMinor: string;
}

/** A product as pg returns it: the bigint price as text. */
type ProductRow = Omit<Product, 'priceMinor'> & { priceMinor: string };

/** As pg returns it: bigint columns as text, which BigInt() reads without losing precision. */
type OrderRow = Omit<OrderWithItems, 'items' | 'totalMinor'> & { totalMinor: string; items: ItemJson[] };

function toOrder(row: OrderRow): OrderWithItems {
  return {
    ...row,
    totalMinor: BigInt(row.totalMinor),
    items: row.items.map((item) => ({ ...item, id: BigInt(item.id), unitPriceMinor: BigInt(item.unitPriceMinor) })),
  };
}
