import type { OutboxRecord } from '@ordermesh/kit';
import type { Database } from './db.js';
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
  /** Inserts the order, its items and its event in one transaction; throws a unique violation for a duplicate key. */
  insertOrder(order: NewOrder, event: (orderId: string) => OutboxRecord): Promise<OrderWithItems>;
  /** Changes the status only if it is one of `from`; returns the order as it is afterwards. */
  transition(
    id: string,
    from: readonly OrderStatus[],
    change: OrderChange,
    event?: OutboxRecord,
  ): Promise<OrderWithItems>;
  /** Newest first, starting after `after` when given. */
  listOrders(userId: string, limit: number, after?: { createdAt: Date; id: string }): Promise<OrderWithItems[]>;
  /**
   * Takes up to `limit` pending orders that are due for a charge attempt and
   * moves their next attempt `retryMs` ahead, so that other instances skip them.
   */
  claimDueSettlements(limit: number, retryMs: number): Promise<string[]>;
  /** Sets when the settlement worker should next try to charge a still-pending order. */
  deferSettlement(id: string, at: Date): Promise<void>;
}

const withItems = { items: { orderBy: { id: 'asc' } } } as const;

export class PrismaOrderStore implements OrderStore {
  constructor(private readonly db: Database) {}

  listProducts() {
    return this.db.product.findMany({ where: { active: true }, orderBy: { sku: 'asc' } });
  }

  findOrder(id: string) {
    return this.db.order.findUnique({ where: { id }, include: withItems });
  }

  findOrderByKey(userId: string, idempotencyKey: string) {
    return this.db.order.findUnique({
      where: { userId_idempotencyKey: { userId, idempotencyKey } },
      include: withItems,
    });
  }

  insertOrder(order: NewOrder, event: (orderId: string) => OutboxRecord) {
    const { items, ...fields } = order;
    return this.db.$transaction(async (tx) => {
      const created = await tx.order.create({
        data: { ...fields, status: 'PENDING_PAYMENT', items: { create: items } },
        include: withItems,
      });
      await tx.outboxEvent.create({ data: event(created.id) });
      return created;
    });
  }

  transition(id: string, from: readonly OrderStatus[], change: OrderChange, event?: OutboxRecord) {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.order.updateMany({
        where: { id, status: { in: [...from] } },
        data: { ...change, nextPaymentAttemptAt: null },
      });
      if (count === 1 && event) await tx.outboxEvent.create({ data: event });
      return tx.order.findUniqueOrThrow({ where: { id }, include: withItems });
    });
  }

  listOrders(userId: string, limit: number, after?: { createdAt: Date; id: string }) {
    return this.db.order.findMany({
      where: {
        userId,
        ...(after && {
          OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }],
        }),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit,
      include: withItems,
    });
  }

  async claimDueSettlements(limit: number, retryMs: number) {
    const rows = await this.db.$queryRaw<{ id: string }[]>`
      UPDATE orders
         SET next_payment_attempt_at = now() + make_interval(secs => ${retryMs / 1000}),
             payment_attempts = payment_attempts + 1
       WHERE id IN (SELECT id FROM orders
                     WHERE status = 'PENDING_PAYMENT' AND next_payment_attempt_at <= now()
                     ORDER BY next_payment_attempt_at LIMIT ${limit}
                     FOR UPDATE SKIP LOCKED)
      RETURNING id::text AS id`;
    return rows.map((row) => row.id);
  }

  async deferSettlement(id: string, at: Date) {
    await this.db.order.updateMany({ where: { id, status: 'PENDING_PAYMENT' }, data: { nextPaymentAttemptAt: at } });
  }
}
