import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OrderStatus } from '@ordermesh/proto/order';
import { User } from '@ordermesh/proto/user';
import { Redis } from 'ioredis';
import { query } from '../support/databases.ts';
import { type E2E, startE2E } from '../support/e2e.ts';
import { eventually } from '../support/eventually.ts';
import { call, failure } from '../support/grpc.ts';

let e2e: E2E;

beforeAll(async () => {
  e2e = await startE2E('failures', 22050);
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

const mug = [{ sku: 'MUG-001', quantity: 1 }];

async function placeOrder(buyer: { token: string; cardId: string }) {
  const { users } = e2e;
  return call(
    users.placeOrder.bind(users),
    { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: buyer.cardId },
    buyer.token,
  );
}

async function orderStatus(buyer: { token: string }, orderId: string) {
  const { users } = e2e;
  return (await call(users.getMyOrder.bind(users), { orderId }, buyer.token)).order?.status;
}

/** Waits a little past the moment a count was reached, to catch duplicates that would arrive late. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1_500));

describe('when a dependency fails', () => {
  it('accepts orders while PaymentService is down and charges each exactly once when it is back', async () => {
    const buyer = await e2e.signUp();
    await e2e.platform.stopService('payment', 'SIGKILL');

    const placed = await placeOrder(buyer);
    expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PENDING_PAYMENT);
    expect(placed.message).toMatch(/payment pending/);
    const view = await call(e2e.users.getMyOrder.bind(e2e.users), { orderId: placed.order?.id ?? '' }, buyer.token);
    expect(view.paymentUnavailable).toBe(true);
    const addCard = call(
      e2e.users.addPaymentMethod.bind(e2e.users),
      { idempotencyKey: randomUUID(), cardNumber: '4242424242424242', expMonth: 1, expYear: 2031, holderName: 'B' },
      buyer.token,
    );
    const refused = await failure(addCard);
    expect(refused.code).toBe(status.UNAVAILABLE);
    expect(refused.details).toMatch(/try again/);

    await e2e.platform.startService('payment');
    const orderId = placed.order?.id ?? '';
    await eventually('the pending order to be paid', async () =>
      (await orderStatus(buyer, orderId)) === OrderStatus.ORDER_STATUS_PAID ? true : undefined,
    );
    const payments = await query(e2e.databaseUrl('payment'), 'SELECT status FROM payments WHERE order_id = $1', [
      orderId,
    ]);
    expect(payments).toEqual([{ status: 'SUCCEEDED' }]);
    await eventually('the payment email', () =>
      e2e.mailTo(buyer.email).includes(`Payment received for order ${orderId}`),
    );
    await settle();
    expect(e2e.mailTo(buyer.email).filter((s) => s.startsWith('Payment received'))).toHaveLength(1);
  });

  it('never charges twice when PaymentService answers after the caller gave up', async () => {
    const buyer = await e2e.signUp();
    // Slower than OrderService's 1.5 s payment timeout: the charge goes through, the answer comes too late.
    await e2e.platform.stopService('payment');
    await e2e.platform.startService('payment', { PAYMENT_SIM_LATENCY_MS: '2500' });
    try {
      const placed = await placeOrder(buyer);
      expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PENDING_PAYMENT);
      const orderId = placed.order?.id ?? '';
      await eventually(
        'the settlement worker to find the late charge',
        async () => ((await orderStatus(buyer, orderId)) === OrderStatus.ORDER_STATUS_PAID ? true : undefined),
        20_000,
      );
      const payments = await query(e2e.databaseUrl('payment'), 'SELECT status FROM payments WHERE order_id = $1', [
        orderId,
      ]);
      expect(payments).toEqual([{ status: 'SUCCEEDED' }]);
      const events = await query(
        e2e.databaseUrl('payment'),
        "SELECT count(*)::int AS n FROM outbox_events WHERE routing_key = 'payment.succeeded' AND payload::text LIKE '%' || $1 || '%'",
        [Buffer.from(orderId).toString('hex')],
      );
      expect(events).toEqual([{ n: 1 }]);
    } finally {
      await e2e.platform.stopService('payment');
      await e2e.platform.startService('payment');
    }
  });

  it('loses no event while RabbitMQ is unreachable, and delivers them all once it is back', async () => {
    const buyer = await e2e.signUp();
    await eventually('the welcome email', () => e2e.mailTo(buyer.email).length === 1);
    await e2e.proxies.amqp.cut();
    const orders = [];
    try {
      for (let i = 0; i < 3; i++) orders.push(await placeOrder(buyer));
      expect(orders.map((o) => o.order?.status)).toEqual(Array(3).fill(OrderStatus.ORDER_STATUS_PAID));
      const unsent = await query(
        e2e.databaseUrl('order'),
        'SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL',
      );
      expect(unsent[0]?.n).toBeGreaterThanOrEqual(3);
    } finally {
      await e2e.proxies.amqp.restore();
    }
    // One welcome, then an "order received" and a "payment received" per order.
    await eventually('every notification', () => e2e.mailTo(buyer.email).length >= 7, 30_000);
    await settle();
    expect(e2e.mailTo(buyer.email)).toHaveLength(7);
    for (const service of ['user', 'order', 'payment'] as const) {
      const rows = await query(
        e2e.databaseUrl(service),
        'SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL',
      );
      expect({ service, unsent: rows[0]?.n }).toEqual({ service, unsent: 0 });
    }
  });

  it('keeps answering from the database while Redis is unreachable, and serves no stale profile after', async () => {
    const { users } = e2e;
    const buyer = await e2e.signUp();
    const placed = await placeOrder(buyer);
    const orderId = placed.order?.id ?? '';
    // Fill the caches.
    expect((await call(users.getProfile.bind(users), {}, buyer.token)).user?.displayName).toBe('Test User');
    await call(users.getMyOrder.bind(users), { orderId }, buyer.token);

    await e2e.proxies.redis.cut();
    try {
      const renamed = await call(users.updateProfile.bind(users), { displayName: 'Renamed' }, buyer.token);
      expect(renamed.user?.displayName).toBe('Renamed');
      expect((await call(users.getProfile.bind(users), {}, buyer.token)).user?.displayName).toBe('Renamed');
      expect(await orderStatus(buyer, orderId)).toBe(OrderStatus.ORDER_STATUS_PAID);
      const second = await placeOrder(buyer);
      expect(second.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    } finally {
      await e2e.proxies.redis.restore();
    }

    // Once Redis answers again the rename's missed invalidation is applied: the old name is never served.
    const redis = new Redis('redis://127.0.0.1:6379');
    try {
      await eventually('the stale profile to be gone from Redis', async () => {
        expect((await call(users.getProfile.bind(users), {}, buyer.token)).user?.displayName).toBe('Renamed');
        const cached = await redis.getBuffer(`user:v1:${buyer.userId}`);
        return cached === null || User.decode(cached).displayName === 'Renamed';
      });
    } finally {
      redis.disconnect();
    }
  });

  it('drains in-flight calls on SIGTERM before exiting cleanly', async () => {
    const buyer = await e2e.signUp();
    await e2e.platform.stopService('payment');
    await e2e.platform.startService('payment', { PAYMENT_SIM_LATENCY_MS: '800' });
    try {
      const inFlight = placeOrder(buyer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const exitCode = await e2e.platform.stopService('order');
      expect(exitCode).toBe(0);
      // The call OrderService had in hand when SIGTERM came was finished, not cut off.
      expect((await inFlight).order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
      const refused = await failure(placeOrder(buyer));
      expect(refused.code).toBe(status.UNAVAILABLE);
    } finally {
      await e2e.platform.startService('order');
      await e2e.platform.stopService('payment');
      await e2e.platform.startService('payment');
    }
  });
});
