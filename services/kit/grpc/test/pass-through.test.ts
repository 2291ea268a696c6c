import { credentials, InterceptingCall, type Interceptor, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bindService,
  type CallContext,
  callUnary,
  createClient,
  passThrough,
  type RunningServer,
  startGrpcServer,
} from '@ordermesh/grpc';
import {
  type ListOrdersRequest,
  type ListOrdersResponse,
  OrderServiceClient,
  OrderServiceService,
  OrderStatus,
} from '@ordermesh/proto/order';
import { UserServiceClient, UserServiceService } from '@ordermesh/proto/user';
import { AppError, createLogger } from '@ordermesh/runtime';
import { call, failure } from '@ordermesh/testing';

/**
 * A downstream answer passed on as bytes, between real servers: the caller
 * gets what the downstream service encoded, the client's interceptor still
 * signs the downstream call, and a downstream failure is an error as usual.
 */
const log = createLogger('pass-through-test', 'silent');
const notCalled = async (): Promise<never> => {
  throw new Error('not part of this test');
};

const page: ListOrdersResponse = {
  orders: [1, 2].map((n) => ({
    id: `00000000-0000-4000-8000-00000000000${n}`,
    userId: '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
    items: [
      { sku: `SKU-${n}`, name: 'Kaffeemühle «No. 5»', quantity: n, unitPrice: { amountMinor: 1999, currency: 'EUR' } },
    ],
    total: { amountMinor: 1999 * n, currency: 'EUR' },
    status: OrderStatus.ORDER_STATUS_PAID,
    paymentMethodId: '2f1c0d1e-0000-4000-8000-000000000001',
    statusReason: n === 2 ? 'retried' : '',
    createdAt: new Date(Date.UTC(2026, 11, 8, 4, n)),
    updatedAt: new Date(Date.UTC(2026, 11, 8, 5, n)),
  })),
  nextPageToken: 'next-page',
};

const seen: { request: ListOrdersRequest; caller: string | undefined }[] = [];
let downstream: RunningServer;
let upstream: RunningServer;
let orders: OrderServiceClient;
let users: UserServiceClient;

/** What the user service's service-token interceptor does: a header on every outgoing call. */
const signed: Interceptor = (options, next) =>
  new InterceptingCall(next(options), {
    start(metadata, listener, proceed) {
      metadata.set('x-test-caller', 'user');
      proceed(metadata, listener);
    },
  });

beforeAll(async () => {
  const orderHandlers = {
    createOrder: notCalled,
    getOrder: notCalled,
    cancelOrder: notCalled,
    listProducts: notCalled,
    async listOrders(request: ListOrdersRequest, context: CallContext) {
      seen.push({ request, caller: context.metadata.get('x-test-caller')[0]?.toString() });
      if (request.pageToken === 'gone') throw new AppError(status.NOT_FOUND, 'no such page');
      return page;
    },
  };
  downstream = await startGrpcServer({
    host: '127.0.0.1',
    port: 27452,
    services: [bindService(OrderServiceService, orderHandlers, log)],
    log,
  });
  orders = createClient(OrderServiceClient, `127.0.0.1:${downstream.port}`, signed);
  const listOrdersEncoded = passThrough(orders, OrderServiceService.listOrders, UserServiceService.listMyOrders);
  const userHandlers = Object.fromEntries(Object.keys(UserServiceService).map((method) => [method, notCalled]));
  upstream = await startGrpcServer({
    host: '127.0.0.1',
    port: 27453,
    services: [
      bindService(
        UserServiceService,
        {
          ...(userHandlers as Record<keyof typeof UserServiceService, typeof notCalled>),
          listMyOrders: ({ pageSize, pageToken }, context) =>
            callUnary(
              listOrdersEncoded,
              { userId: 'u-1', pageSize, pageToken },
              { timeoutMs: 5000, within: context.deadline },
            ).catch((error: ServiceError) => {
              throw new AppError(error.code, `downstream: ${error.details}`);
            }),
          listProducts: async () => ({
            products: [{ sku: 'SKU-1', name: 'Mill', price: { amountMinor: 5, currency: 'EUR' } }],
          }),
        },
        log,
      ),
    ],
    log,
  });
  users = new UserServiceClient(`127.0.0.1:${upstream.port}`, credentials.createInsecure());
});

afterAll(async () => {
  users.close();
  orders.close();
  await upstream.shutdown(1000);
  await downstream.shutdown(1000);
});

describe('passThrough', () => {
  it('answers with the downstream page, field for field, and signs the downstream call', async () => {
    const answer = await call(users.listMyOrders.bind(users), { pageSize: 2, pageToken: '' });
    expect(answer).toEqual(page);
    expect(seen.at(-1)).toEqual({ request: { userId: 'u-1', pageSize: 2, pageToken: '' }, caller: 'user' });
  });

  it('passes a downstream failure on as an error, with its status and details', async () => {
    const error = await failure(call(users.listMyOrders.bind(users), { pageSize: 2, pageToken: 'gone' }));
    expect({ code: error.code, details: error.details }).toEqual({
      code: status.NOT_FOUND,
      details: 'downstream: no such page',
    });
  });

  it('refuses two methods whose answers differ on the wire', () => {
    expect(() => passThrough(orders, OrderServiceService.getOrder, UserServiceService.listMyOrders)).toThrow(
      '/ordermesh.order.v1.OrderService/GetOrder cannot answer /ordermesh.user.v1.UserService/ListMyOrders as it is: ' +
        'ordermesh.order.v1.GetOrderResponse field 1 (order) is optional message, not repeated message',
    );
  });

  it('leaves the answers of other handlers to the generated encoder', async () => {
    expect(await call(users.listProducts.bind(users), {})).toEqual({
      products: [{ sku: 'SKU-1', name: 'Mill', price: { amountMinor: 5, currency: 'EUR' } }],
    });
  });
});
