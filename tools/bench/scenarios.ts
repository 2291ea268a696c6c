/** The calls each scenario makes, identical for the platform and the bare baseline: only the address differs. */
import { randomUUID } from 'node:crypto';
import { ListMyOrdersRequest, PlaceOrderRequest } from '@ordermesh/proto/user';
import type { Account } from './accounts.ts';
import type { RawCaller } from './grpc-caller.ts';
import type { Call } from './load.ts';

const path = (method: string) => `/ordermesh.user.v1.UserService/${method}`;
const EMPTY = Buffer.alloc(0);

function roundRobin<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => items[next++ % items.length] as T;
}

/** GetProfile of several users, all cached after the warm-up. */
export function getProfile(caller: RawCaller, buyers: readonly Account[]): Call {
  const nextBuyer = roundRobin(buyers);
  return () => caller.call(path('GetProfile'), EMPTY, nextBuyer().metadata);
}

/** PlaceOrder of one item with a fresh idempotency key: every call is a new order, charged and announced. */
export function placeOrder(caller: RawCaller, buyers: readonly Account[]): Call {
  const nextBuyer = roundRobin(buyers);
  return () => {
    const buyer = nextBuyer();
    const request = PlaceOrderRequest.encode({
      idempotencyKey: randomUUID(),
      lines: [{ sku: 'MUG-001', quantity: 1 }],
      paymentMethodId: buyer.paymentMethodId,
    }).finish();
    return caller.call(path('PlaceOrder'), Buffer.from(request), buyer.metadata);
  };
}

/** The first page (20) of one user's orders, newest first. */
export function listMyOrders(caller: RawCaller, account: Account): Call {
  const request = Buffer.from(ListMyOrdersRequest.encode({ pageSize: 20, pageToken: '' }).finish());
  return () => caller.call(path('ListMyOrders'), request, account.metadata);
}
