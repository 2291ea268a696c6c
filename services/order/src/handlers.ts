import { bindService, decodePageToken, fields, parseRequest, toMoney, toPage } from '@ordermesh/grpc';
import { allowCallers, type ServiceTokenVerifier } from '@ordermesh/identity';
import { type Order, OrderServiceService, OrderStatus } from '@ordermesh/proto/order';
import type { Logger } from '@ordermesh/runtime';
import { z } from 'zod';
import type { Orders } from './orders.js';
import type { OrderWithItems } from './store.js';

const createOrder = z.object({
  idempotencyKey: fields.idempotencyKey,
  userId: fields.id,
  lines: z
    .array(
      z.object({
        sku: z.string().min(1, 'is required').max(64, 'must be at most 64 characters'),
        quantity: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'),
      }),
    )
    .min(1, 'must have at least one line')
    .max(50, 'must have at most 50 lines'),
  paymentMethodId: fields.id,
});
const orderOfUser = z.object({ orderId: fields.id, userId: fields.id });
const cancelOrder = orderOfUser.extend({ idempotencyKey: fields.idempotencyKey });
const listOrders = z.object({ userId: fields.id, pageSize: fields.pageSize, pageToken: fields.pageToken });

/**
 * Which service may call which method: only UserService, as the mesh's
 * AuthorizationPolicy "order" allows. Naming every method makes a new RPC a
 * compile error until someone decides who may call it.
 */
export const ORDER_CALLERS: Record<keyof typeof OrderServiceService, readonly string[]> = {
  createOrder: ['user'],
  getOrder: ['user'],
  listOrders: ['user'],
  cancelOrder: ['user'],
  listProducts: ['user'],
};

/** gRPC edge of OrderService: check the calling service, validate, call the domain, shape the answer. */
export function orderService(orders: Orders, callers: ServiceTokenVerifier, log: Logger) {
  return bindService(
    OrderServiceService,
    {
      async createOrder(request, context) {
        const command = parseRequest(createOrder, request);
        return { order: await orders.create({ ...command, within: context.deadline }) };
      },
      async getOrder(request) {
        const { orderId, userId } = parseRequest(orderOfUser, request);
        return { order: await orders.get(orderId, userId) };
      },
      async listOrders(request) {
        const { userId, pageSize, pageToken } = parseRequest(listOrders, request);
        const rows = await orders.list(userId, pageSize + 1, decodePageToken(pageToken));
        const page = toPage(rows, pageSize);
        return { orders: page.rows.map(toOrderMessage), nextPageToken: page.nextPageToken };
      },
      async cancelOrder(request, context) {
        const { orderId, userId } = parseRequest(cancelOrder, request);
        return { order: await orders.cancel(orderId, userId, context.deadline) };
      },
      async listProducts() {
        const products = await orders.listProducts();
        return {
          products: products.map((p) => ({ sku: p.sku, name: p.name, price: toMoney(p.priceMinor, p.currency) })),
        };
      },
    },
    log,
    { authorize: allowCallers(callers, ORDER_CALLERS) },
  );
}

const statusOf: Record<OrderWithItems['status'], OrderStatus> = {
  PENDING_PAYMENT: OrderStatus.ORDER_STATUS_PENDING_PAYMENT,
  PAID: OrderStatus.ORDER_STATUS_PAID,
  PAYMENT_FAILED: OrderStatus.ORDER_STATUS_PAYMENT_FAILED,
  CANCELLED: OrderStatus.ORDER_STATUS_CANCELLED,
  REFUNDED: OrderStatus.ORDER_STATUS_REFUNDED,
};

export function toOrderMessage(order: OrderWithItems): Order {
  return {
    id: order.id,
    userId: order.userId,
    items: order.items.map((item) => ({
      sku: item.sku,
      name: item.name,
      quantity: item.quantity,
      unitPrice: toMoney(item.unitPriceMinor, order.currency),
    })),
    total: toMoney(order.totalMinor, order.currency),
    status: statusOf[order.status],
    paymentMethodId: order.paymentMethodId,
    statusReason: order.statusReason,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}
