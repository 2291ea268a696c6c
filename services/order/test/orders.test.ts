import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Order, OrderServiceClient, OrderStatus } from '@ordermesh/proto/order';
import { PaymentServiceClient, PaymentStatus } from '@ordermesh/proto/payment';
import type { ShutdownStep } from '@ordermesh/runtime';
import {
  call,
  createMigratedDatabase,
  eventually,
  failure,
  query,
  serviceIdentities,
  TcpProxy,
} from '@ordermesh/testing';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { startPaymentService } from '../../payment/src/app.js';
import { loadPaymentConfig } from '../../payment/src/config.js';
import { startOrderService } from '../src/app.js';
import { loadOrderConfig } from '../src/config.js';

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const REDIS_URL = 'redis://127.0.0.1:6379';
const runId = randomUUID().slice(0, 8);
const exchange = `ordermesh.test.${runId}`;
/** The tests call both services directly as UserService, their one real caller, would. */
const keysDir = join(tmpdir(), `ordermesh-orders-it-${runId}`);
const identities = serviceIdentities(keysDir);

let orderDb: Awaited<ReturnType<typeof createMigratedDatabase>>;
let paymentDb: Awaited<ReturnType<typeof createMigratedDatabase>>;
/** OrderService reaches PaymentService through this, so a test can make PaymentService unreachable. */
let paymentProxy: TcpProxy;
let orders: OrderServiceClient;
let paymentClient: PaymentServiceClient;
const shutdown: ShutdownStep[] = [];
const touchedOrders = new Set<string>();

const order = (response: { order?: Order | undefined }): Order => {
  if (!response.order) throw new Error('no order in the response');
  touchedOrders.add(response.order.id);
  return response.order;
};

async function newCustomer() {
  const userId = randomUUID();
  const { paymentMethod } = await call(paymentClient.addPaymentMethod.bind(paymentClient), {
    idempotencyKey: randomUUID(),
    userId,
    cardNumber: '4242424242424242',
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 2,
    holderName: 'Test Customer',
  });
  return { userId, paymentMethodId: paymentMethod?.id ?? '' };
}

function createOrder(customer: { userId: string; paymentMethodId: string }, idempotencyKey = randomUUID()) {
  return call(orders.createOrder.bind(orders), {
    idempotencyKey,
    userId: customer.userId,
    paymentMethodId: customer.paymentMethodId,
    lines: [
      { sku: 'MUG-001', quantity: 2 },
      { sku: 'STK-003', quantity: 1 },
    ],
  }).then(order);
}

const getOrder = (orderId: string, userId: string) =>
  call(orders.getOrder.bind(orders), { orderId, userId }).then(order);

beforeAll(async () => {
  [orderDb, paymentDb] = await Promise.all([createMigratedDatabase('order'), createMigratedDatabase('payment')]);
  const common = { LOG_LEVEL: 'silent', GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', SHUTDOWN_GRACE_MS: '500', AMQP_URL };
  const payment = await startPaymentService(
    loadPaymentConfig({
      ...common,
      DATABASE_URL: paymentDb.url,
      EVENTS_EXCHANGE: exchange,
      PAYMENT_SIM_LATENCY_MS: '5',
      ...identities.env.payment,
    }),
  );
  shutdown.push(...payment.shutdownSteps);
  paymentProxy = new TcpProxy(payment.port);
  await paymentProxy.start();
  const orderService = await startOrderService(
    loadOrderConfig({
      ...common,
      DATABASE_URL: orderDb.url,
      EVENTS_EXCHANGE: exchange,
      REDIS_URL,
      PAYMENT_SERVICE_ADDR: `127.0.0.1:${paymentProxy.port}`,
      PAYMENT_TIMEOUT_MS: '500',
      SETTLEMENT_INTERVAL_MS: '100',
      SETTLEMENT_RETRY_MS: '300',
      ...identities.env.order,
    }),
  );
  // Callers before callees.
  shutdown.unshift(...orderService.shutdownSteps);
  orders = new OrderServiceClient(`127.0.0.1:${orderService.port}`, credentials.createInsecure(), {
    interceptors: [identities.interceptor('user', 'order')],
  });
  paymentClient = new PaymentServiceClient(`127.0.0.1:${payment.port}`, credentials.createInsecure(), {
    interceptors: [identities.interceptor('user', 'payment')],
  });
}, 30_000);

afterAll(async () => {
  orders?.close();
  paymentClient?.close();
  for (const step of shutdown) await step.run();
  await paymentProxy?.stop();
  if (touchedOrders.size > 0) {
    const redis = new Redis(REDIS_URL);
    await redis.del(...[...touchedOrders].map((id) => `order:v2:${id}`));
    redis.disconnect();
  }
  const broker = await connect(AMQP_URL);
  const channel = await broker.createChannel();
  await channel.deleteQueue(`${exchange}.unrouted`);
  await channel.deleteExchange(exchange);
  await channel.deleteExchange(`${exchange}.unrouted`);
  await broker.close();
  await orderDb?.drop();
  await paymentDb?.drop();
  rmSync(keysDir, { recursive: true, force: true });
}, 30_000);

describe('OrderService with PaymentService', () => {
  it('creates and pays an order priced from the catalogue', async () => {
    const customer = await newCustomer();
    const placed = await createOrder(customer);
    expect(placed).toMatchObject({
      userId: customer.userId,
      status: OrderStatus.ORDER_STATUS_PAID,
      total: { amountMinor: 2 * 1250 + 450, currency: 'EUR' },
    });
    const { payment } = await call(paymentClient.getPayment.bind(paymentClient), {
      orderId: placed.id,
      userId: customer.userId,
    });
    expect(payment).toMatchObject({ status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED, amount: { amountMinor: 2950 } });
  });

  it('creates one order when the same CreateOrder races, pays it once and tells every copy the outcome', async () => {
    const customer = await newCustomer();
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 20 }, () => createOrder(customer, key)));

    const ids = new Set(answers.map((answer) => answer.id));
    expect(ids.size).toBe(1);
    // Not a moment of it: a copy that lost the insert does not report PENDING_PAYMENT while the winner is paying.
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(OrderStatus.ORDER_STATUS_PAID));
    const [orderId] = [...ids];
    const rows = await query(orderDb.url, 'SELECT id FROM orders WHERE user_id = $1', [customer.userId]);
    expect(rows).toEqual([{ id: orderId }]);
    const placedEvents = await query(
      orderDb.url,
      "SELECT count(*)::int AS n FROM outbox_events WHERE routing_key = 'order.placed' AND created_at > now() - interval '1 minute' AND position($1::bytea in payload) > 0",
      [Buffer.from(orderId ?? '')],
    );
    expect(placedEvents).toEqual([{ n: 1 }]);
    const payments = await query(paymentDb.url, 'SELECT status FROM payments WHERE order_id = $1', [orderId]);
    expect(payments).toEqual([{ status: 'SUCCEEDED' }]);
    await eventually(
      'the order paid',
      async () => (await getOrder(orderId ?? '', customer.userId)).status === OrderStatus.ORDER_STATUS_PAID,
    );

    // The same key for a different order is refused.
    const error = await failure(
      call(orders.createOrder.bind(orders), {
        idempotencyKey: key,
        userId: customer.userId,
        paymentMethodId: customer.paymentMethodId,
        lines: [{ sku: 'TEE-002', quantity: 1 }],
      }),
    );
    expect(error.code).toBe(status.ALREADY_EXISTS);
  });

  it('pages through many orders newest first, with no duplicates or gaps, also across identical creation times', async () => {
    const customer = await newCustomer();
    // A few through the API...
    for (let i = 0; i < 3; i++) await createOrder(customer);
    // ...and the rest written directly: 20 with one shared timestamp, 22 a millisecond apart.
    const shared = new Date(Date.now() - 60_000);
    const rows = Array.from({ length: 42 }, (_, i) => ({
      id: randomUUID(),
      createdAt: i < 20 ? shared : new Date(shared.getTime() - 1_000 + i),
    }));
    for (const row of rows) {
      await query(
        orderDb.url,
        `INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, total_minor,
                             payment_method_id, created_at, updated_at)
         VALUES ($1, $2, $3, 'direct', 'PAID', 'EUR', 100, $4, $5, $5)`,
        [row.id, customer.userId, randomUUID(), customer.paymentMethodId, row.createdAt],
      );
    }
    const expected = (
      await query<{ id: string }>(
        orderDb.url,
        'SELECT id FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC',
        [customer.userId],
      )
    ).map((row) => row.id);
    expect(expected).toHaveLength(45);

    const pages: Order[][] = [];
    let pageToken = '';
    do {
      const page = await call(orders.listOrders.bind(orders), { userId: customer.userId, pageSize: 20, pageToken });
      pages.push(page.orders);
      pageToken = page.nextPageToken;
      expect(pages.length).toBeLessThan(10);
    } while (pageToken);

    expect(pages.map((page) => page.length)).toEqual([20, 20, 5]);
    const listed = pages.flat();
    expect(listed.map((o) => o.id)).toEqual(expected);
    expect(new Set(listed.map((o) => o.id)).size).toBe(45);
    for (let i = 1; i < listed.length; i++) {
      expect(listed[i - 1]?.createdAt?.getTime()).toBeGreaterThanOrEqual(listed[i]?.createdAt?.getTime() ?? 0);
    }
    // The three made through the API are the newest.
    expect(listed.slice(0, 3).every((o) => o.status === OrderStatus.ORDER_STATUS_PAID && o.items.length === 2)).toBe(
      true,
    );
    // Another user sees none of them.
    const other = await call(orders.listOrders.bind(orders), { userId: randomUUID(), pageSize: 20, pageToken: '' });
    expect(other.orders).toEqual([]);
  });

  it('refuses to cancel a pending order while PaymentService is unreachable, then settles it once it is back', async () => {
    const customer = await newCustomer();
    await paymentProxy.cut();
    let orderId = '';
    try {
      const pending = await createOrder(customer);
      orderId = pending.id;
      expect(pending.status).toBe(OrderStatus.ORDER_STATUS_PENDING_PAYMENT);
      const before = (await query(orderDb.url, 'SELECT * FROM orders WHERE id = $1', [orderId]))[0];

      const error = await failure(
        call(orders.cancelOrder.bind(orders), { idempotencyKey: randomUUID(), orderId, userId: customer.userId }),
      );
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toContain('not cancelled');

      const after = (await query(orderDb.url, 'SELECT * FROM orders WHERE id = $1', [orderId]))[0];
      expect(after?.status).toBe('PENDING_PAYMENT');
      expect(after?.updated_at).toEqual(before?.updated_at);
      expect(after?.status_reason).toBe(before?.status_reason);
      const cancelled = await query(
        orderDb.url,
        "SELECT count(*)::int AS n FROM outbox_events WHERE routing_key = 'order.cancelled'",
      );
      expect(cancelled).toEqual([{ n: 0 }]);
      expect(await query(paymentDb.url, 'SELECT id FROM payments WHERE order_id = $1', [orderId])).toEqual([]);
    } finally {
      await paymentProxy.restore();
    }

    // The settlement worker charges it once PaymentService answers again.
    const settled = await eventually(
      'the pending order to be paid',
      async () => {
        const current = await getOrder(orderId, customer.userId);
        return current.status === OrderStatus.ORDER_STATUS_PAID && current;
      },
      15_000,
    );
    expect(settled.statusReason).toBe('');
    expect(await query(paymentDb.url, 'SELECT status FROM payments WHERE order_id = $1', [orderId])).toEqual([
      { status: 'SUCCEEDED' },
    ]);

    // Now the cancellation goes through, and refunds.
    const cancelled = await call(orders.cancelOrder.bind(orders), {
      idempotencyKey: randomUUID(),
      orderId,
      userId: customer.userId,
    }).then(order);
    expect(cancelled.status).toBe(OrderStatus.ORDER_STATUS_REFUNDED);
    expect((await getOrder(orderId, customer.userId)).status).toBe(OrderStatus.ORDER_STATUS_REFUNDED);
  }, 20_000);
});
