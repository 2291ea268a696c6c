/**
 * What must hold in the databases whatever the services were sent: no half
 * written order or payment, every state change with its outbox event, and
 * the two services agreeing on what was paid. Each check returns the rows
 * that break it, described so that a failure says what is wrong.
 */

import type { ServiceName } from '@ordermesh/dev/platform';
import { OrderCancelled, OrderPlaced, PaymentFailed, PaymentRefunded, PaymentSucceeded } from '@ordermesh/proto/events';
import { query } from '@ordermesh/testing';

interface OutboxRow extends Record<string, unknown> {
  routing_key: string;
  payload: Buffer;
}

/** The order or payment id each outbox event of a database is about, by routing key. */
async function eventSubjects(url: string): Promise<Map<string, Set<string>>> {
  const rows = await query<OutboxRow>(url, 'SELECT routing_key, payload FROM outbox_events');
  const decoders: Record<string, (bytes: Buffer) => string> = {
    'order.placed': (b) => OrderPlaced.decode(b).orderId,
    'order.cancelled': (b) => OrderCancelled.decode(b).orderId,
    'payment.succeeded': (b) => PaymentSucceeded.decode(b).paymentId,
    'payment.failed': (b) => PaymentFailed.decode(b).paymentId,
    'payment.refunded': (b) => PaymentRefunded.decode(b).paymentId,
  };
  const subjects = new Map<string, Set<string>>();
  for (const row of rows) {
    const decode = decoders[row.routing_key];
    if (!decode) continue;
    const ids = subjects.get(row.routing_key) ?? new Set<string>();
    ids.add(decode(row.payload));
    subjects.set(row.routing_key, ids);
  }
  return subjects;
}

const has = (subjects: Map<string, Set<string>>, key: string, id: string) => subjects.get(key)?.has(id) === true;

export interface InvariantReport {
  counts: Record<string, number>;
  violations: string[];
}

/** Runs every invariant against the platform's databases. `secrets` must never appear in any stored row. */
export async function checkInvariants(
  databaseUrl: (name: ServiceName) => string,
  secrets: { password: string; cardNumbers: string[] },
  /**
   * Orders the fuzzer refunded by calling PaymentService/Refund itself, with
   * OrderService's identity: that bypasses OrderService, so their order rows
   * rightly still say PAID. Any other PAID order with a refunded payment is a bug.
   */
  refundedBehindOrderService: ReadonlySet<string> = new Set(),
): Promise<InvariantReport> {
  const violations: string[] = [];
  const orderDb = databaseUrl('order');
  const paymentDb = databaseUrl('payment');
  const userDb = databaseUrl('user');

  const orders = await query<{
    id: string;
    user_id: string;
    status: string;
    currency: string;
    total_minor: string;
    items: string;
    items_total: string | null;
  }>(
    orderDb,
    `SELECT o.id::text, o.user_id::text, o.status::text, o.currency, o.total_minor::text,
            count(i.id)::text AS items, sum(i.quantity * i.unit_price_minor)::text AS items_total
       FROM orders o LEFT JOIN order_items i ON i.order_id = o.id
      GROUP BY o.id`,
  );
  const orderEvents = await eventSubjects(orderDb);
  for (const order of orders) {
    if (order.items === '0') violations.push(`order ${order.id} has no lines`);
    else if (order.items_total !== order.total_minor)
      violations.push(`order ${order.id} total ${order.total_minor} is not the sum of its lines ${order.items_total}`);
    if (!has(orderEvents, 'order.placed', order.id)) violations.push(`order ${order.id} has no order.placed event`);
    if (['CANCELLED', 'REFUNDED'].includes(order.status) && !has(orderEvents, 'order.cancelled', order.id))
      violations.push(`order ${order.id} is ${order.status} without an order.cancelled event`);
  }

  const payments = await query<{
    id: string;
    order_id: string | null;
    user_id: string;
    status: string;
    amount_minor: string;
    currency: string;
    payment_method_id: string | null;
    method_owner: string | null;
  }>(
    paymentDb,
    `SELECT p.id::text, p.order_id::text, p.user_id::text, p.status::text, p.amount_minor::text, p.currency,
            p.payment_method_id::text, m.user_id::text AS method_owner
       FROM payments p LEFT JOIN payment_methods m ON m.id = p.payment_method_id`,
  );
  const paymentEvents = await eventSubjects(paymentDb);
  const paymentOfOrder = new Map(payments.map((p) => [p.order_id, p]));
  for (const p of payments) {
    if (!p.order_id) violations.push(`payment ${p.id} has no order id`);
    if (p.status === 'PROCESSING') violations.push(`payment ${p.id} was left PROCESSING`);
    if (p.status !== 'VOIDED') {
      if (!p.payment_method_id) violations.push(`payment ${p.id} (${p.status}) has no payment method`);
      else if (p.method_owner !== p.user_id)
        violations.push(`payment ${p.id} uses payment method ${p.payment_method_id} of another user or none`);
      if (BigInt(p.amount_minor) <= 0n) violations.push(`payment ${p.id} (${p.status}) is for ${p.amount_minor}`);
    }
    const needs: Record<string, string[]> = {
      SUCCEEDED: ['payment.succeeded'],
      DECLINED: ['payment.failed'],
      REFUNDED: ['payment.succeeded', 'payment.refunded'],
    };
    for (const key of needs[p.status] ?? [])
      if (!has(paymentEvents, key, p.id)) violations.push(`payment ${p.id} is ${p.status} without a ${key} event`);
  }

  // The two services agree: a paid order has a succeeded payment of its own amount, by its own user.
  for (const order of orders) {
    const payment = paymentOfOrder.get(order.id);
    const refundedDirectly = payment?.status === 'REFUNDED' && refundedBehindOrderService.has(order.id);
    if (order.status === 'PAID' && payment?.status !== 'SUCCEEDED' && !refundedDirectly)
      violations.push(`order ${order.id} is PAID but its payment is ${payment?.status ?? 'missing'}`);
    if (!payment || payment.status === 'VOIDED') continue;
    if (payment.user_id !== order.user_id)
      violations.push(`payment ${payment.id} of order ${order.id} belongs to another user`);
    if (payment.amount_minor !== order.total_minor || payment.currency !== order.currency)
      violations.push(
        `payment ${payment.id} is ${payment.amount_minor} ${payment.currency} for order ${order.id} of ${order.total_minor} ${order.currency}`,
      );
  }

  const methods = await query<{ id: string; last4: string; provider_token: string; holder_name: string }>(
    paymentDb,
    'SELECT id::text, last4, provider_token, holder_name FROM payment_methods',
  );
  for (const m of methods) {
    if (!/^\d{4}$/.test(m.last4)) violations.push(`payment method ${m.id} stores last4 ${JSON.stringify(m.last4)}`);
  }

  const users = await query<{ id: string; password_hash: string }>(userDb, 'SELECT id::text, password_hash FROM users');
  const stored = [
    ...users.map((u) => u.password_hash),
    ...methods.flatMap((m) => [m.provider_token, m.holder_name]),
  ].join('\n');
  if (stored.includes(secrets.password)) violations.push('a password is stored in clear');
  for (const card of secrets.cardNumbers)
    if (stored.includes(card)) violations.push(`card number ending ${card.slice(-4)} is stored in clear`);

  return {
    counts: {
      orders: orders.length,
      payments: payments.length,
      paymentMethods: methods.length,
      users: users.length,
    },
    violations,
  };
}
