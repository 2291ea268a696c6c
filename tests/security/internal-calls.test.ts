import { randomUUID } from 'node:crypto';
import { type Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chargeBinding } from '@ordermesh/proto/charge-binding';
import type { OrderServiceService } from '@ordermesh/proto/order';
import { OrderStatus } from '@ordermesh/proto/order';
import type { PaymentServiceService } from '@ordermesh/proto/payment';
import { PaymentStatus } from '@ordermesh/proto/payment';
import { type CallingService, call, type E2E, failure, serviceIdentities, startE2E } from '@ordermesh/testing';
import {
  callRaw,
  forgedServiceTokens,
  INTERNAL_SERVICES,
  type InternalService,
  internalClients,
} from './support/identity-calls.ts';

/**
 * OrderService and PaymentService without the mesh: a call must carry a
 * service token of a caller allowed for that method (the mesh's
 * AuthorizationPolicy, by mTLS identity, does the same in the cluster), and
 * PaymentService only takes the amount OrderService signed for the order.
 */

/**
 * Who may call what, written out here rather than imported, so a change to
 * the services' allowlists must be made twice, on purpose. Typed by the
 * generated definitions: a new RPC without a row does not compile.
 */
const ALLOWED: {
  order: Record<keyof typeof OrderServiceService, readonly CallingService[]>;
  payment: Record<keyof typeof PaymentServiceService, readonly CallingService[]>;
} = {
  order: {
    createOrder: ['user'],
    getOrder: ['user'],
    listOrders: ['user'],
    cancelOrder: ['user'],
    listProducts: ['user'],
  },
  payment: {
    addPaymentMethod: ['user'],
    listPaymentMethods: ['user'],
    getPayment: ['user'],
    charge: ['order'],
    refund: ['order'],
  },
};
const CALLERS: readonly CallingService[] = ['user', 'order'];
const SERVICE_TOKEN_REFUSED = 'missing, invalid or expired service credentials';
const mug = [{ sku: 'MUG-001', quantity: 2 }];

let e2e: E2E;
let identities: ReturnType<typeof serviceIdentities>;
let clients: ReturnType<typeof internalClients>;

beforeAll(async () => {
  e2e = await startE2E('internal_calls', 28100);
  identities = serviceIdentities(e2e.settings.stateDir);
  clients = internalClients({ order: e2e.platform.address('order'), payment: e2e.platform.address('payment') });
}, 180_000);

afterAll(async () => {
  clients?.order.close();
  clients?.payment.close();
  await e2e?.close();
}, 60_000);

const methodsOf = (service: InternalService) => Object.keys(INTERNAL_SERVICES[service].definition);

async function codeOf(promise: Promise<unknown>): Promise<{ code: status; details: string }> {
  try {
    await promise;
    return { code: status.OK, details: '' };
  } catch (error) {
    const { code, details } = error as ServiceError;
    return { code, details };
  }
}

describe('internal calls without the mesh', () => {
  it('the normal flow still works: register, add a card, PlaceOrder is PAID', async () => {
    const alice = await e2e.signUp();
    const placed = await call(
      e2e.users.placeOrder.bind(e2e.users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: alice.cardId },
      alice.token,
    );
    expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    const view = await call(e2e.users.getMyOrder.bind(e2e.users), { orderId: placed.order?.id ?? '' }, alice.token);
    expect(view.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
  });

  it('refuses every method of both services without a valid service token, with one UNAUTHENTICATED message', async () => {
    const { token } = await e2e.signUp();
    const outcomes: { call: string; code: status; details: string }[] = [];
    for (const service of ['order', 'payment'] as const) {
      const caller: CallingService = service === 'order' ? 'user' : 'order';
      const attempts = forgedServiceTokens(identities, caller, service, token);
      for (const method of methodsOf(service)) {
        for (const [attempt, metadata] of Object.entries(attempts)) {
          const outcome = await codeOf(callRaw(service, clients[service], method, metadata));
          outcomes.push({ call: `${service}.${method} with ${attempt}`, ...outcome });
        }
      }
    }
    for (const { call: name, code } of outcomes) {
      expect({ name, code }).toEqual({ name, code: status.UNAUTHENTICATED });
    }
    expect(new Set(outcomes.map((o) => o.details))).toEqual(new Set([SERVICE_TOKEN_REFUSED]));
    console.log(`${outcomes.length} calls without a valid service identity refused`);
  });

  it('lets each caller call only the methods allowed to it (PERMISSION_DENIED otherwise)', async () => {
    const rows: string[] = [];
    for (const service of ['order', 'payment'] as const) {
      const allowed = ALLOWED[service] as Record<string, readonly CallingService[]>;
      expect(Object.keys(allowed).sort()).toEqual(methodsOf(service).sort());
      for (const method of methodsOf(service)) {
        for (const caller of CALLERS) {
          // An empty request: an allowed caller gets past the identity check to validation (or an answer).
          const { code, details } = await codeOf(
            callRaw(service, clients[service], method, await identities.metadata(caller, service)),
          );
          const may = allowed[method]?.includes(caller) ?? false;
          rows.push(`${caller} -> ${service}.${method}: ${status[code]}`);
          if (may) {
            const refused = code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED;
            expect({ caller, method, refused }).toEqual({ caller, method, refused: false });
          } else if (caller === service) {
            // A service is never its own caller: it holds no trusted key there at all.
            expect({ caller, method, code }).toEqual({ caller, method, code: status.UNAUTHENTICATED });
          } else {
            expect({ caller, method, code, details }).toEqual({
              caller,
              method,
              code: status.PERMISSION_DENIED,
              details: `service ${caller} may not call ${method}`,
            });
          }
        }
      }
    }
    console.log(rows.join('\n'));
  });
});

describe('PaymentService takes only the amount OrderService signed for the order', () => {
  /** A card on file and a paid order, placed through the public API. */
  async function paidOrder() {
    const customer = await e2e.signUp();
    const placed = await call(
      e2e.users.placeOrder.bind(e2e.users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: customer.cardId },
      customer.token,
    );
    expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    if (!placed.order) throw new Error('PlaceOrder answered without an order');
    return { customer, order: placed.order };
  }

  const chargeRequest = (c: { orderId: string; userId: string; paymentMethodId: string; amountMinor: number }) => ({
    idempotencyKey: `charge:${c.orderId}`,
    orderId: c.orderId,
    userId: c.userId,
    paymentMethodId: c.paymentMethodId,
    amount: { amountMinor: c.amountMinor, currency: 'EUR' },
  });

  const charge = (request: ReturnType<typeof chargeRequest>, metadata: Metadata) =>
    call(clients.payment.charge.bind(clients.payment), request, undefined, { metadata });

  const asOrderService = (c: { orderId: string; userId: string; paymentMethodId: string; amountMinor: number }) =>
    identities.metadata('order', 'payment', chargeBinding({ ...c, currency: 'EUR' }));

  const paymentOf = (orderId: string, userId: string) =>
    identities
      .metadata('user', 'payment')
      .then((metadata) =>
        call(clients.payment.getPayment.bind(clients.payment), { orderId, userId }, undefined, { metadata }),
      );

  it('refuses a charge whose amount differs from the one OrderService signed, and takes no money', async () => {
    const { customer } = await paidOrder();
    const signed = {
      orderId: randomUUID(),
      userId: customer.userId,
      paymentMethodId: customer.cardId,
      amountMinor: 2500,
    };
    const error = await failure(charge(chargeRequest({ ...signed, amountMinor: 1 }), await asOrderService(signed)));
    expect({ code: error.code, details: error.details }).toEqual({
      code: status.PERMISSION_DENIED,
      details: 'amount_minor: does not match the order the charge was authorised for',
    });
    expect((await failure(paymentOf(signed.orderId, customer.userId))).code).toBe(status.NOT_FOUND);
  });

  it("refuses a charge with OrderService's plain token, or with a token signed for another order", async () => {
    const { customer } = await paidOrder();
    const request = {
      orderId: randomUUID(),
      userId: customer.userId,
      paymentMethodId: customer.cardId,
      amountMinor: 2500,
    };

    const plain = await failure(charge(chargeRequest(request), await identities.metadata('order', 'payment')));
    expect({ code: plain.code, details: plain.details }).toEqual({
      code: status.PERMISSION_DENIED,
      details: 'a charge needs a service token bound to its order, card and amount; this one is not',
    });

    const replayed = await failure(
      charge(chargeRequest(request), await asOrderService({ ...request, orderId: randomUUID() })),
    );
    expect({ code: replayed.code, details: replayed.details }).toEqual({
      code: status.PERMISSION_DENIED,
      details: 'order_id: does not match the order the charge was authorised for',
    });
    expect((await failure(paymentOf(request.orderId, customer.userId))).code).toBe(status.NOT_FOUND);
  });

  it('refuses a retried charge with the same idempotency key but another amount, and answers the same one', async () => {
    const { customer, order } = await paidOrder();
    const paid = {
      orderId: order.id,
      userId: customer.userId,
      paymentMethodId: customer.cardId,
      amountMinor: order.total?.amountMinor ?? 0,
    };
    expect(paid.amountMinor).toBe(2500);

    // Even signed (as a buggy or compromised OrderService would), another amount for a charged order is refused.
    const other = { ...paid, amountMinor: 1 };
    const error = await failure(charge(chargeRequest(other), await asOrderService(other)));
    expect({ code: error.code, details: error.details }).toEqual({
      code: status.FAILED_PRECONDITION,
      details: 'the order already has a payment of another amount',
    });

    // The same charge again is the first answer, not a second charge.
    const again = await charge(chargeRequest(paid), await asOrderService(paid));
    expect(again.payment).toMatchObject({
      orderId: order.id,
      status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
      amount: { amountMinor: 2500, currency: 'EUR' },
    });
    const stored = await paymentOf(order.id, customer.userId);
    expect(stored.payment?.id).toBe(again.payment?.id);
    expect(stored.payment?.amount).toEqual({ amountMinor: 2500, currency: 'EUR' });
  });
});
