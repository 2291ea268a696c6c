/**
 * Cross-user access, table-driven over the contracts: for every RPC whose
 * request names a resource by id, a second user (Mallory) who sends the first
 * user's (Alice's) id gets NOT_FOUND, never PERMISSION_DENIED, and where the
 * service can answer the same for an id that does not exist at all, the very
 * same answer, so ids cannot be probed. List calls never return another
 * user's rows, and replaying another user's idempotency key never returns
 * that user's resource.
 *
 * The table is checked against the descriptor set: an RPC whose request has a
 * field ending in `_id` (nested ones included), and every List RPC, must have
 * a row here, or be listed under NO_CROSS_USER_SURFACE with the reason.
 */
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { NotificationServiceService } from '@ordermesh/proto/notification';
import { OrderServiceService, OrderStatus } from '@ordermesh/proto/order';
import { PaymentServiceService, PaymentStatus } from '@ordermesh/proto/payment';
import { UserServiceService } from '@ordermesh/proto/user';
import { type E2E, eventually, query, startE2E } from '@ordermesh/testing';
import { closeClients, fieldPaths, invoke, type MethodDefinition, ordermeshRpcs } from './support/fuzz-rpc.ts';

type SignedUp = Awaited<ReturnType<E2E['signUp']>>;

interface World {
  alice: SignedUp;
  mallory: SignedUp;
  /** Alice's paid order and its total. */
  aliceOrder: { id: string; amountMinor: number; currency: string };
  /** The idempotency keys Alice used. */
  aliceKeys: { order: string; card: string };
  /** Every id of Alice's: orders, cards, notifications. */
  aliceIds: string[];
}

interface Answer {
  code: status;
  details: string;
}

/** One way of reaching Alice's resource through one id field, as Mallory. */
interface Probe {
  /** The call with `id` in the field under test, everything else Mallory's own. */
  call(world: World, id: string): Promise<Answer>;
  /** Alice's id for that field. */
  victim(world: World): string;
  /**
   * "same-as-missing": NOT_FOUND, exactly as for an id that exists nowhere.
   * "not-found": NOT_FOUND; an id that exists nowhere is answered otherwise
   * (the internal RPC creates the payment of an order it has not seen).
   * "order-fails-as-missing": the order is accepted but never charged to
   * that card, failing with the same reason as for a card that exists nowhere.
   */
  expect: 'same-as-missing' | 'not-found' | 'order-fails-as-missing';
}

interface Row {
  /** Probes by request field (proto spelling, e.g. `order_id`). */
  ids?: Record<string, Probe>;
  /** For list RPCs: the ids of the rows Mallory's call returns, and their owners. */
  list?: (world: World) => Promise<{ ids: string[]; owners: string[] }>;
  /** For RPCs with an idempotency key: Mallory replays Alice's key; returns the resource id he got, if any. */
  replay?: (world: World) => Promise<string | undefined>;
}

let e2e: E2E;
let world: World;
const rpcs = ordermeshRpcs();

/** Calls `definition` on its service as a real caller would: Mallory's token for public RPCs, service identity for internal ones. */
async function callRpc<Req, Res>(
  definition: MethodDefinition<Req, Res>,
  request: Req,
  token?: string,
): Promise<Answer & { response?: Res }> {
  const rpc = rpcs.find((r) => r.path === definition.path);
  if (!rpc) throw new Error(`${definition.path} is not in the contracts`);
  return invoke(e2e.settings.stateDir, e2e.platform.address(rpc.target), rpc, definition, request, token);
}

/** The response of a call that must succeed. */
async function ok<Req, Res>(definition: MethodDefinition<Req, Res>, request: Req, token?: string): Promise<Res> {
  const answer = await callRpc(definition, request, token);
  if (answer.code !== status.OK || !answer.response)
    throw new Error(`${definition.path} failed: ${status[answer.code]} ${answer.details}`);
  return answer.response;
}

const U = UserServiceService;
const O = OrderServiceService;
const P = PaymentServiceService;
const mug = [{ sku: 'MUG-001', quantity: 1 }];

/**
 * RPCs with no resource of one user that another could name. Each reason is
 * checked by a reader, not by code; the coverage test only makes sure that
 * nothing is left out without one.
 */
const NO_CROSS_USER_SURFACE: Record<string, string> = {
  '/ordermesh.user.v1.UserService/Register': 'creates an account; names no existing resource',
  '/ordermesh.user.v1.UserService/Login': 'names an account by email and proves it with the password',
  '/ordermesh.user.v1.UserService/GetProfile': 'the user is the token’s subject; the request has no fields',
  '/ordermesh.user.v1.UserService/UpdateProfile': 'the user is the token’s subject; the request names no one',
  '/ordermesh.user.v1.UserService/ListProducts': 'the catalogue is the same for everyone',
  '/ordermesh.order.v1.OrderService/ListProducts': 'the catalogue is the same for everyone',
};

const TABLE: Record<string, Row> = {
  '/ordermesh.user.v1.UserService/GetMyOrder': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) => callRpc(U.getMyOrder, { orderId }, w.mallory.token),
        expect: 'same-as-missing',
      },
    },
  },
  '/ordermesh.user.v1.UserService/CancelMyOrder': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) => callRpc(U.cancelMyOrder, { idempotencyKey: randomUUID(), orderId }, w.mallory.token),
        expect: 'same-as-missing',
      },
    },
  },
  '/ordermesh.user.v1.UserService/PlaceOrder': {
    ids: {
      payment_method_id: {
        victim: (w) => w.alice.cardId,
        call: (w, paymentMethodId) => placeAs(w.mallory.token, paymentMethodId),
        expect: 'order-fails-as-missing',
      },
    },
    replay: async (w) =>
      (
        await ok(
          U.placeOrder,
          { idempotencyKey: w.aliceKeys.order, lines: mug, paymentMethodId: w.mallory.cardId },
          w.mallory.token,
        )
      ).order?.id,
  },
  '/ordermesh.user.v1.UserService/AddPaymentMethod': {
    replay: async (w) =>
      (
        await ok(
          U.addPaymentMethod,
          {
            idempotencyKey: w.aliceKeys.card,
            cardNumber: '5555555555554444',
            expMonth: 1,
            expYear: 2033,
            holderName: 'M',
          },
          w.mallory.token,
        )
      ).paymentMethod?.id,
  },
  '/ordermesh.user.v1.UserService/ListMyOrders': {
    list: async (w) => {
      const { orders } = await ok(U.listMyOrders, { pageSize: 100, pageToken: '' }, w.mallory.token);
      return { ids: orders.map((o) => o.id), owners: orders.map((o) => o.userId) };
    },
  },
  '/ordermesh.user.v1.UserService/ListPaymentMethods': {
    list: async (w) => {
      const { paymentMethods } = await ok(U.listPaymentMethods, {}, w.mallory.token);
      return { ids: paymentMethods.map((m) => m.id), owners: paymentMethods.map((m) => m.userId) };
    },
  },
  '/ordermesh.notification.v1.NotificationService/ListMyNotifications': {
    list: async (w) => {
      const { notifications } = await ok(
        NotificationServiceService.listMyNotifications,
        { pageSize: 100, pageToken: '' },
        w.mallory.token,
      );
      // Notifications carry no user id; their recipient is the user's email.
      return {
        ids: notifications.map((n) => n.id),
        owners: notifications.map((n) => (n.recipient === w.mallory.email ? w.mallory.userId : n.recipient)),
      };
    },
  },
  '/ordermesh.order.v1.OrderService/GetOrder': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) => callRpc(O.getOrder, { orderId, userId: w.mallory.userId }),
        expect: 'same-as-missing',
      },
    },
  },
  '/ordermesh.order.v1.OrderService/CancelOrder': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) =>
          callRpc(O.cancelOrder, { idempotencyKey: randomUUID(), orderId, userId: w.mallory.userId }),
        expect: 'same-as-missing',
      },
    },
  },
  '/ordermesh.order.v1.OrderService/CreateOrder': {
    ids: {
      payment_method_id: {
        victim: (w) => w.alice.cardId,
        call: async (w, paymentMethodId) => {
          const answer = await callRpc(O.createOrder, {
            idempotencyKey: randomUUID(),
            userId: w.mallory.userId,
            lines: mug,
            paymentMethodId,
          });
          return asOrderOutcome(answer.code, answer.details, answer.response?.order);
        },
        expect: 'order-fails-as-missing',
      },
    },
    replay: async (w) =>
      (
        await ok(O.createOrder, {
          idempotencyKey: w.aliceKeys.order,
          userId: w.mallory.userId,
          lines: mug,
          paymentMethodId: w.mallory.cardId,
        })
      ).order?.id,
  },
  '/ordermesh.order.v1.OrderService/ListOrders': {
    list: async (w) => {
      const { orders } = await ok(O.listOrders, { userId: w.mallory.userId, pageSize: 100, pageToken: '' });
      return { ids: orders.map((o) => o.id), owners: orders.map((o) => o.userId) };
    },
  },
  '/ordermesh.payment.v1.PaymentService/GetPayment': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) => callRpc(P.getPayment, { orderId, userId: w.mallory.userId }),
        expect: 'same-as-missing',
      },
    },
  },
  '/ordermesh.payment.v1.PaymentService/Refund': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) => callRpc(P.refund, { idempotencyKey: randomUUID(), orderId, userId: w.mallory.userId }),
        expect: 'not-found',
      },
    },
  },
  '/ordermesh.payment.v1.PaymentService/Charge': {
    ids: {
      order_id: {
        victim: (w) => w.aliceOrder.id,
        call: (w, orderId) =>
          callRpc(P.charge, {
            idempotencyKey: randomUUID(),
            orderId,
            userId: w.mallory.userId,
            paymentMethodId: w.mallory.cardId,
            amount: { amountMinor: w.aliceOrder.amountMinor, currency: w.aliceOrder.currency },
          }),
        expect: 'not-found',
      },
      payment_method_id: {
        victim: (w) => w.alice.cardId,
        call: (w, paymentMethodId) =>
          callRpc(P.charge, {
            idempotencyKey: randomUUID(),
            orderId: randomUUID(),
            userId: w.mallory.userId,
            paymentMethodId,
            amount: { amountMinor: 1250, currency: 'EUR' },
          }),
        expect: 'same-as-missing',
      },
    },
  },
  '/ordermesh.payment.v1.PaymentService/AddPaymentMethod': {
    replay: async (w) =>
      (
        await ok(P.addPaymentMethod, {
          idempotencyKey: w.aliceKeys.card,
          userId: w.mallory.userId,
          // The same card as the UserService replay above: a key reused for another card is ALREADY_EXISTS.
          cardNumber: '5555555555554444',
          expMonth: 1,
          expYear: 2033,
          holderName: 'M',
        })
      ).paymentMethod?.id,
  },
  '/ordermesh.payment.v1.PaymentService/ListPaymentMethods': {
    list: async (w) => {
      const { paymentMethods } = await ok(P.listPaymentMethods, { userId: w.mallory.userId });
      return { ids: paymentMethods.map((m) => m.id), owners: paymentMethods.map((m) => m.userId) };
    },
  },
};

/** PlaceOrder's answer reduced to what tells a card that is not yours from one that does not exist. */
async function placeAs(token: string, paymentMethodId: string): Promise<Answer> {
  const answer = await callRpc(U.placeOrder, { idempotencyKey: randomUUID(), lines: mug, paymentMethodId }, token);
  return asOrderOutcome(answer.code, answer.details, answer.response?.order);
}

function asOrderOutcome(
  code: status,
  details: string,
  order: { status: OrderStatus; statusReason: string } | undefined,
): Answer {
  if (code !== status.OK) return { code, details };
  return { code, details: `${OrderStatus[order?.status ?? 0]}: ${order?.statusReason}` };
}

beforeAll(async () => {
  e2e = await startE2E('xuser', 27100);
  const alice = await e2e.signUp();
  const mallory = await e2e.signUp();
  const aliceKeys = { order: randomUUID(), card: randomUUID() };
  const secondCard = await ok(
    U.addPaymentMethod,
    { idempotencyKey: aliceKeys.card, cardNumber: '4242424242424242', expMonth: 3, expYear: 2035, holderName: 'Alice' },
    alice.token,
  );
  const placed = await ok(
    U.placeOrder,
    { idempotencyKey: aliceKeys.order, lines: mug, paymentMethodId: alice.cardId },
    alice.token,
  );
  if (placed.order?.status !== OrderStatus.ORDER_STATUS_PAID) throw new Error('Alice’s order was not paid');
  // Mallory has rows of his own, so that an empty list proves nothing.
  await ok(U.placeOrder, { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: mallory.cardId }, mallory.token);
  world = {
    alice,
    mallory,
    aliceOrder: {
      id: placed.order.id,
      amountMinor: placed.order.total?.amountMinor ?? 0,
      currency: placed.order.total?.currency ?? '',
    },
    aliceKeys,
    aliceIds: [],
  };
  // Both have notifications (welcome, order received, payment received) before the list rows run.
  for (const who of [alice, mallory])
    await eventually(`${who.email}'s notifications`, () => hasNotifications(who.email));
  const { notifications } = await ok(
    NotificationServiceService.listMyNotifications,
    { pageSize: 100, pageToken: '' },
    alice.token,
  );
  world.aliceIds = [
    placed.order.id,
    alice.cardId,
    secondCard.paymentMethod?.id ?? '',
    ...notifications.map((n) => n.id),
  ];
}, 180_000);

async function hasNotifications(email: string) {
  const rows = await query<{ n: string }>(
    e2e.databaseUrl('notification'),
    'SELECT count(*)::text AS n FROM notifications WHERE recipient = $1',
    [email],
  );
  return Number(rows[0]?.n ?? 0) >= 3;
}

afterAll(async () => {
  closeClients();
  await e2e?.close();
});

describe('the cross-user table covers the contracts', () => {
  const needsRow = rpcs.filter(
    (rpc) => fieldPaths(rpc.input).some((path) => path.endsWith('_id')) || rpc.method.name.startsWith('List'),
  );

  it('has a row or a reason for every RPC that takes an id or lists rows, and nothing stale', () => {
    const missing = needsRow
      .map((rpc) => rpc.path)
      .filter((path) => !(path in TABLE) && !(path in NO_CROSS_USER_SURFACE));
    expect(missing).toEqual([]);
    const known = rpcs.map((rpc) => rpc.path);
    const stale = [...Object.keys(TABLE), ...Object.keys(NO_CROSS_USER_SURFACE)].filter((p) => !known.includes(p));
    expect(stale).toEqual([]);
    expect(Object.keys(TABLE).filter((path) => path in NO_CROSS_USER_SURFACE)).toEqual([]);
  });

  it('probes every resource id field of every row (user_id is the acting user in each probe)', () => {
    const unprobed = rpcs.flatMap((rpc) => {
      const row = TABLE[rpc.path];
      if (!row) return [];
      const idFields = fieldPaths(rpc.input).filter((path) => path.endsWith('_id') && path !== 'user_id');
      return idFields.filter((field) => !row.ids?.[field]).map((field) => `${rpc.path} ${field}`);
    });
    expect(unprobed).toEqual([]);
    const wrong = Object.entries(TABLE).flatMap(([path, row]) => {
      const rpc = rpcs.find((r) => r.path === path);
      const fields = rpc ? fieldPaths(rpc.input) : [];
      return [
        ...Object.keys(row.ids ?? {})
          .filter((field) => !fields.includes(field))
          .map((field) => `${path} probes ${field}, which its request does not have`),
        ...(rpc?.method.name.startsWith('List') && !row.list ? [`${path} lists rows but has no list check`] : []),
      ];
    });
    expect(wrong).toEqual([]);
  });
});

const probes = Object.entries(TABLE).flatMap(([path, row]) =>
  Object.entries(row.ids ?? {}).map(([field, probe]) => [path, field, probe] as const),
);
const lists = Object.entries(TABLE).flatMap(([path, row]) => (row.list ? [[path, row.list] as const] : []));
const replays = Object.entries(TABLE).flatMap(([path, row]) => (row.replay ? [[path, row.replay] as const] : []));

describe('a second user naming the first user’s resources', () => {
  it.each(probes)('%s with Alice’s %s: not found', async (_path, _field, probe) => {
    const theirs = await probe.call(world, probe.victim(world));
    const nowhere = await probe.call(world, randomUUID());
    switch (probe.expect) {
      case 'same-as-missing':
        expect(theirs.code).toBe(status.NOT_FOUND);
        expect(theirs).toEqual(nowhere);
        break;
      case 'not-found':
        expect(theirs.code).toBe(status.NOT_FOUND);
        break;
      case 'order-fails-as-missing':
        expect(theirs).toEqual({ code: status.OK, details: 'ORDER_STATUS_PAYMENT_FAILED: payment method not found' });
        expect(theirs).toEqual(nowhere);
        break;
    }
  });

  it.each(lists)('%s never returns Alice’s rows', async (_path, list) => {
    const { ids, owners } = await list(world);
    expect(ids.length).toBeGreaterThan(0);
    expect(owners.every((owner) => owner === world.mallory.userId)).toBe(true);
    expect(ids.filter((id) => world.aliceIds.includes(id))).toEqual([]);
  });

  it.each(replays)('%s with Alice’s idempotency key gives Mallory his own resource', async (_path, replay) => {
    const got = await replay(world);
    expect(got).toBeDefined();
    expect(world.aliceIds).not.toContain(got);
  });

  it('left Alice’s order paid and her money where it was', async () => {
    const view = await ok(U.getMyOrder, { orderId: world.aliceOrder.id }, world.alice.token);
    expect(view.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    expect(view.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    const charges = await query<{ n: string }>(
      e2e.databaseUrl('payment'),
      'SELECT count(*)::text AS n FROM payments WHERE payment_method_id = $1 AND user_id <> $2',
      [world.alice.cardId, world.alice.userId],
    );
    expect(charges[0]?.n).toBe('0');
  });
});
