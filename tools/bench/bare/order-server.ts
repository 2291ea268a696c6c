/**
 * Bare OrderService: CreateOrder prices the lines, inserts the order, its item
 * and its outbox event in one transaction, charges through bare
 * PaymentService, marks the order paid and relays the event; ListOrders is one
 * keyset query plus one for the items.
 */
import { randomUUID } from 'node:crypto';
import { credentials, Metadata, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { OrderPlaced } from '@ordermesh/proto/events';
import {
  type CreateOrderRequest,
  type CreateOrderResponse,
  type ListOrdersRequest,
  type ListOrdersResponse,
  type Order,
  OrderServiceService,
  OrderStatus,
} from '@ordermesh/proto/order';
import { type ChargeResponse, PaymentServiceClient } from '@ordermesh/proto/payment';
import { connect } from 'amqplib';
import pg from 'pg';
import { failure, INSERT_OUTBOX_EVENT, listen, newServer, relayEvent, required } from './common.ts';

const db = new pg.Pool({ connectionString: required('DATABASE_URL'), max: 10 });
const exchange = required('EXCHANGE');
const channel = await (await connect(required('AMQP_URL'))).createConfirmChannel();
await channel.assertExchange(exchange, 'topic', { durable: true });
const payments = new PaymentServiceClient(required('PAYMENT_ADDR'), credentials.createInsecure());

interface OrderRow {
  id: string;
  user_id: string;
  status: string;
  currency: string;
  total_minor: string;
  payment_method_id: string;
  created_at: Date;
  updated_at: Date;
}
interface ItemRow {
  order_id: string;
  sku: string;
  name: string;
  quantity: number;
  unit_price_minor: string;
}

const STATUS: Record<string, OrderStatus> = {
  PENDING_PAYMENT: OrderStatus.ORDER_STATUS_PENDING_PAYMENT,
  PAID: OrderStatus.ORDER_STATUS_PAID,
};

function toOrder(row: OrderRow, items: ItemRow[]): Order {
  return {
    id: row.id,
    userId: row.user_id,
    items: items.map((item) => ({
      sku: item.sku,
      name: item.name,
      quantity: item.quantity,
      unitPrice: { amountMinor: Number(item.unit_price_minor), currency: row.currency },
    })),
    total: { amountMinor: Number(row.total_minor), currency: row.currency },
    status: STATUS[row.status] ?? OrderStatus.ORDER_STATUS_UNSPECIFIED,
    paymentMethodId: row.payment_method_id,
    statusReason: '',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// No payment retry is due: the bare chain has no settlement sweeper, and a due time would
// let the platform's OrderService, on the same table, charge the bare chain's orders.
const INSERT_ORDER = `INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, total_minor,
  payment_method_id, next_payment_attempt_at, updated_at)
  VALUES ($1, $2, $3, $4, 'PENDING_PAYMENT', $5, $6, $7, NULL, now()) RETURNING *`;
const INSERT_ITEM = `INSERT INTO order_items (order_id, sku, name, quantity, unit_price_minor)
  VALUES ($1, $2, $3, $4, $5) RETURNING *`;

/** The three inserts of one order, in one transaction. The baseline takes one line per order, as the benchmark sends. */
async function insertOrder(
  request: CreateOrderRequest,
  price: { name: string; price_minor: string; currency: string },
) {
  const line = request.lines[0];
  if (!line) throw new Error('no lines');
  const id = randomUUID();
  const total = Number(price.price_minor) * line.quantity;
  const event = {
    eventId: randomUUID(),
    routingKey: 'order.placed',
    payload: Buffer.from(
      OrderPlaced.encode({
        orderId: id,
        userId: request.userId,
        total: { amountMinor: total, currency: price.currency },
        itemCount: line.quantity,
        occurredAt: new Date(),
      }).finish(),
    ),
  };
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const order = await client.query<OrderRow>(INSERT_ORDER, [
      id,
      request.userId,
      request.idempotencyKey,
      'bare',
      price.currency,
      total,
      request.paymentMethodId,
    ]);
    const item = await client.query<ItemRow>(INSERT_ITEM, [id, line.sku, price.name, line.quantity, price.price_minor]);
    await client.query(INSERT_OUTBOX_EVENT, [
      event.eventId,
      event.routingKey,
      'ordermesh.events.v1.OrderPlaced',
      event.payload,
    ]);
    await client.query('COMMIT');
    return { order: order.rows[0] as OrderRow, items: item.rows, event };
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

function charge(order: OrderRow, request: CreateOrderRequest, deadline: Date | number): Promise<ChargeResponse> {
  const amount = { amountMinor: Number(order.total_minor), currency: order.currency };
  return new Promise((resolve, reject) =>
    payments.charge(
      {
        idempotencyKey: `charge:${order.id}`,
        orderId: order.id,
        userId: request.userId,
        paymentMethodId: request.paymentMethodId,
        amount,
      },
      new Metadata(),
      { deadline },
      (error, response) => (error ? reject(error) : resolve(response)),
    ),
  );
}

async function createOrder(request: CreateOrderRequest, deadline: Date | number): Promise<Order> {
  const sku = request.lines[0]?.sku ?? '';
  const products = await db.query<{ name: string; price_minor: string; currency: string }>(
    'SELECT name, price_minor, currency FROM products WHERE sku = $1 AND active',
    [sku],
  );
  const price = products.rows[0];
  if (!price) throw failure(status.INVALID_ARGUMENT, `unknown sku ${sku}`);
  const { order, items, event } = await insertOrder(request, price);
  relayEvent(db, channel, exchange, event);
  await charge(order, request, deadline);
  const paid = await db.query<OrderRow>(
    "UPDATE orders SET status = 'PAID', next_payment_attempt_at = NULL, updated_at = now() WHERE id = $1 RETURNING *",
    [order.id],
  );
  return toOrder(paid.rows[0] as OrderRow, items);
}

async function listOrders(request: ListOrdersRequest): Promise<ListOrdersResponse> {
  const pageSize = request.pageSize || 20;
  const orders = await db.query<OrderRow>(
    'SELECT * FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2',
    [request.userId, pageSize + 1],
  );
  const page = orders.rows.slice(0, pageSize);
  const items = await db.query<ItemRow>('SELECT * FROM order_items WHERE order_id = ANY($1::uuid[]) ORDER BY id', [
    page.map((row) => row.id),
  ]);
  const last = page[page.length - 1];
  return {
    orders: page.map((row) =>
      toOrder(
        row,
        items.rows.filter((item) => item.order_id === row.id),
      ),
    ),
    nextPageToken:
      orders.rows.length > pageSize && last
        ? Buffer.from(JSON.stringify([last.created_at.getTime(), last.id])).toString('base64url')
        : '',
  };
}

/** Adapts an async handler to grpc-js; a thrown { code, details } becomes that status. */
function unary<Req, Res>(handler: (request: Req, deadline: Date | number) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) =>
    handler(call.request, call.getDeadline()).then(
      (response) => callback(null, response),
      (error: { code?: number; details?: string; message?: string }) =>
        callback(failure(error.code ?? status.INTERNAL, error.details ?? error.message ?? 'failed')),
    );
}

const notImplemented = (_call: unknown, callback: sendUnaryData<never>) =>
  callback(failure(status.UNIMPLEMENTED, 'not in the baseline'));

const server = newServer();
server.addService(OrderServiceService, {
  createOrder: unary(
    async (request: CreateOrderRequest, deadline): Promise<CreateOrderResponse> => ({
      order: await createOrder(request, deadline),
    }),
  ),
  listOrders: unary(listOrders),
  getOrder: notImplemented,
  cancelOrder: notImplemented,
  listProducts: notImplemented,
});
await listen(server, required('LISTEN'));
