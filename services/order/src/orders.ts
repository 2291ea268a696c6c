import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { toMoney } from '@ordermesh/grpc';
import { outboxRecord } from '@ordermesh/messaging';
import { type Order as OrderMessage, OrderStatus } from '@ordermesh/proto/order';
import type { Payment } from '@ordermesh/proto/payment';
import { alreadyExists, isUnreachable, type Logger, notFound, unavailable } from '@ordermesh/runtime';
import type { Cache, Codec } from '@ordermesh/storage';
import type { PaymentGateway } from './payment-gateway.js';
import { type Line, type PricedOrder, priceOrder, requestHash } from './pricing.js';
import { CANCEL_NEEDS_PAYMENT, FINAL, orderStatusAfterCancel, orderStatusAfterCharge } from './status.js';
import type { OrderStore, OrderWithItems, Product } from './store.js';

export interface CreateOrderCommand {
  idempotencyKey: string;
  userId: string;
  lines: Line[];
  paymentMethodId: string;
  within?: Date | number;
}

export interface OrdersSettings {
  /** How long after creation the settlement worker may first retry a charge (the inline charge has had its chance by then). */
  settlementDelayMs: number;
  settlementRetryMs: number;
}

/**
 * v2: orders awaiting payment are no longer cached (see get), so nothing
 * invalidates after a charge; v1 entries, which could hold one, are not read.
 */
const cacheKey = (orderId: string) => `order:v2:${orderId}`;
/** An order awaiting payment changes within moments: it is read from the database until it is settled. */
const settled = (order: OrderMessage) => order.status !== OrderStatus.ORDER_STATUS_PENDING_PAYMENT;
const CATALOGUE_TTL_MS = 30_000;

/**
 * OrderService's rules: orders are created once per idempotency key, charged
 * through PaymentService, and when it cannot be reached kept PENDING_PAYMENT
 * for the settlement worker. Status changes are conditional updates, so the
 * inline charge, the worker and a cancellation cannot overwrite each other.
 */
export class Orders {
  private cachedCatalogue: { loadedAt: number; products: ReadonlyMap<string, Product> } | undefined;

  constructor(
    private readonly store: OrderStore,
    private readonly payments: PaymentGateway,
    private readonly cache: Cache,
    private readonly codec: Codec<OrderMessage>,
    private readonly toMessage: (order: OrderWithItems) => OrderMessage,
    private readonly onEventWritten: () => void,
    private readonly settings: OrdersSettings,
    private readonly log: Logger,
  ) {}

  async create(command: CreateOrderCommand): Promise<OrderMessage> {
    const hash = requestHash(command.lines, command.paymentMethodId);
    let priced: PricedOrder;
    try {
      priced = priceOrder(command.lines, await this.catalogue());
    } catch (error) {
      // A retry of an order placed before its product was withdrawn still gets the first answer.
      const existing = await this.store.findOrderByKey(command.userId, command.idempotencyKey);
      if (existing) return this.replay(existing, hash, command.within);
      throw error;
    }
    // Insert first: the unique (user, key) index, not a read before, tells a retry from a new order.
    const order = await this.store.insertOrder(
      {
        userId: command.userId,
        idempotencyKey: command.idempotencyKey,
        requestHash: hash,
        currency: priced.currency,
        totalMinor: priced.totalMinor,
        paymentMethodId: command.paymentMethodId,
        items: priced.items,
        nextPaymentAttemptAt: new Date(Date.now() + this.settings.settlementDelayMs),
      },
      (orderId) =>
        outboxRecord('order.placed', {
          orderId,
          userId: command.userId,
          total: toMoney(priced.totalMinor, priced.currency),
          itemCount: priced.items.reduce((sum, item) => sum + item.quantity, 0),
          occurredAt: new Date(),
        }),
    );
    if (!order) {
      const winner = await this.store.findOrderByKey(command.userId, command.idempotencyKey);
      // The other order with this key was deleted in between: nothing to compare with, so the caller retries.
      if (!winner) throw unavailable('the order could not be placed; try again');
      return this.replay(winner, hash, command.within);
    }
    this.onEventWritten();
    return this.toMessage(await this.tryCharge(order, command.within));
  }

  async get(orderId: string, userId: string): Promise<OrderMessage> {
    const order = await this.cache.getOrLoad(
      cacheKey(orderId),
      this.codec,
      async () => {
        const row = await this.store.findOrder(orderId);
        return row ? this.toMessage(row) : undefined;
      },
      settled,
    );
    // Another user's order is "not found", so ids cannot be probed.
    if (!order || order.userId !== userId) throw notFound('order');
    return order;
  }

  async list(userId: string, limit: number, after?: { createdAt: Date; id: string }): Promise<OrderWithItems[]> {
    return this.store.listOrders(userId, limit, after);
  }

  async listProducts() {
    return [...(await this.catalogue()).values()];
  }

  /** The catalogue changes rarely and is read by every order: it is kept for CATALOGUE_TTL_MS. */
  private async catalogue(): Promise<ReadonlyMap<string, Product>> {
    if (!this.cachedCatalogue || Date.now() - this.cachedCatalogue.loadedAt > CATALOGUE_TTL_MS) {
      const products = await this.store.listProducts();
      this.cachedCatalogue = { loadedAt: Date.now(), products: new Map(products.map((p) => [p.sku, p])) };
    }
    return this.cachedCatalogue.products;
  }

  async cancel(orderId: string, userId: string, within?: Date | number): Promise<OrderMessage> {
    const order = await this.store.findOrder(orderId);
    if (!order || order.userId !== userId) throw notFound('order');
    if (FINAL.includes(order.status)) return this.toMessage(order);

    let from = [order.status];
    let change = { status: 'CANCELLED' as const, statusReason: 'cancelled' };
    let refunded = false;
    if (CANCEL_NEEDS_PAYMENT.includes(order.status)) {
      let payment: Payment;
      try {
        payment = await this.payments.refund({ orderId, userId, within });
      } catch (error) {
        if (isUnreachable(error))
          throw unavailable('payments are unavailable right now; the order was not cancelled, try again shortly');
        if ((error as { code?: number }).code === grpcStatus.ABORTED)
          throw unavailable('the order is being charged right now; try again shortly');
        throw error;
      }
      const outcome = orderStatusAfterCancel(payment.status);
      refunded = outcome.status === 'REFUNDED';
      from = [...CANCEL_NEEDS_PAYMENT];
      change = { status: outcome.status as 'CANCELLED', statusReason: outcome.reason };
    }
    const updated = await this.store.transition(
      orderId,
      from,
      change,
      outboxRecord('order.cancelled', { orderId, userId, refunded, occurredAt: new Date() }),
    );
    this.onEventWritten();
    await this.cache.invalidate(cacheKey(orderId));
    return this.toMessage(updated);
  }

  /** One pass of the settlement worker: charges the pending orders that are due. Returns how many were settled. */
  async settleDue(batch = 20): Promise<number> {
    let settled = 0;
    for (const id of await this.store.claimDueSettlements(batch, this.settings.settlementRetryMs)) {
      const order = await this.store.findOrder(id);
      if (!order) continue;
      const after = await this.tryCharge(order);
      if (after.status !== 'PENDING_PAYMENT') settled += 1;
    }
    return settled;
  }

  /**
   * The answer to a repeated CreateOrder. An order still awaiting payment is
   * charged again (PaymentService charges once per order whoever asks), so
   * every copy reports the outcome the first one gets rather than a moment of
   * it, and a retry after an unknown outcome learns how it ended.
   */
  private async replay(order: OrderWithItems, hash: string, within?: Date | number): Promise<OrderMessage> {
    if (order.requestHash !== hash) throw alreadyExists('idempotency_key was already used for a different order');
    const current = order.status === 'PENDING_PAYMENT' ? await this.tryCharge(order, within) : order;
    return this.toMessage(current);
  }

  /** Charges a pending order. A PaymentService that cannot be reached leaves it pending; that is not an error. */
  private async tryCharge(order: OrderWithItems, within?: Date | number): Promise<OrderWithItems> {
    let change: { status: OrderWithItems['status']; reason: string } | undefined;
    try {
      const payment = await this.payments.charge({
        orderId: order.id,
        userId: order.userId,
        paymentMethodId: order.paymentMethodId,
        amountMinor: Number(order.totalMinor),
        currency: order.currency,
        within,
      });
      change = orderStatusAfterCharge(payment);
    } catch (error) {
      if (isUnreachable(error)) {
        this.log.warn({ orderId: order.id, err: error }, 'payment unavailable, order kept pending for settlement');
        return order;
      }
      const code = (error as { code?: number }).code;
      if (
        code === grpcStatus.NOT_FOUND ||
        code === grpcStatus.FAILED_PRECONDITION ||
        code === grpcStatus.INVALID_ARGUMENT
      ) {
        change = { status: 'PAYMENT_FAILED', reason: (error as ServiceError).details };
      } else {
        this.log.error({ orderId: order.id, err: error }, 'charge failed unexpectedly, order kept pending');
        return order;
      }
    }
    if (!change) return order;
    // No cache entry to invalidate: get() never caches an order that is still PENDING_PAYMENT.
    return this.store.transition(order.id, ['PENDING_PAYMENT'], {
      status: change.status,
      statusReason: change.reason,
    });
  }
}
