import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ROOT } from '@ordermesh/dev/platform';
import { NotificationStatus } from '@ordermesh/proto/notification';
import { OrderStatus } from '@ordermesh/proto/order';
import { PaymentStatus } from '@ordermesh/proto/payment';
import { call, DECLINED_CARD, type E2E, eventually, failure, query, startE2E } from '@ordermesh/testing';
import { listServicesByReflection } from '../../tools/grpc/reflection.ts';

let e2e: E2E;

beforeAll(async () => {
  e2e = await startE2E('flow', 21050);
}, 120_000);

afterAll(async () => {
  await e2e?.close();
});

const mug = [{ sku: 'MUG-001', quantity: 2 }];

describe('the public API, end to end across four processes', () => {
  it('registers, logs in, orders, pays, cancels, refunds and notifies', async () => {
    const { users, notifications } = e2e;
    const alice = await e2e.signUp();
    const profile = await call(users.getProfile.bind(users), {}, alice.token);
    expect(profile.user?.email).toBe(alice.email);

    const { products } = await call(users.listProducts.bind(users), {});
    expect(products.map((p) => p.sku)).toContain('MUG-001');

    const paid = await call(
      users.placeOrder.bind(users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: alice.cardId },
      alice.token,
    );
    expect(paid.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    expect(paid.order?.total).toEqual({ amountMinor: 2500, currency: 'EUR' });
    expect(paid.message).toMatch(/paid/i);

    const declinedCard = await call(
      users.addPaymentMethod.bind(users),
      { idempotencyKey: randomUUID(), cardNumber: DECLINED_CARD, expMonth: 1, expYear: 2032, holderName: 'Alice' },
      alice.token,
    );
    const declined = await call(
      users.placeOrder.bind(users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: declinedCard.paymentMethod?.id ?? '' },
      alice.token,
    );
    expect(declined.order?.status).toBe(OrderStatus.ORDER_STATUS_PAYMENT_FAILED);
    expect(declined.order?.statusReason).toBe('card_declined');
    expect(declined.message).toMatch(/did not go through/);

    const view = await call(users.getMyOrder.bind(users), { orderId: paid.order?.id ?? '' }, alice.token);
    expect(view.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    expect(view.paymentUnavailable).toBe(false);

    const listed = await call(users.listMyOrders.bind(users), { pageSize: 10, pageToken: '' }, alice.token);
    expect(listed.orders.map((o) => o.id)).toEqual([declined.order?.id, paid.order?.id]);

    const refunded = await call(
      users.cancelMyOrder.bind(users),
      { idempotencyKey: randomUUID(), orderId: paid.order?.id ?? '' },
      alice.token,
    );
    expect(refunded.order?.status).toBe(OrderStatus.ORDER_STATUS_REFUNDED);
    const cancelled = await call(
      users.cancelMyOrder.bind(users),
      { idempotencyKey: randomUUID(), orderId: declined.order?.id ?? '' },
      alice.token,
    );
    expect(cancelled.order?.status).toBe(OrderStatus.ORDER_STATUS_CANCELLED);
    const refundView = await call(users.getMyOrder.bind(users), { orderId: paid.order?.id ?? '' }, alice.token);
    expect(refundView.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_REFUNDED);

    const expected = [
      'user.registered',
      'order.placed',
      'payment.succeeded',
      'order.placed',
      'payment.failed',
      'payment.refunded',
      'order.cancelled',
      'order.cancelled',
    ];
    const log = await eventually('all eight notifications sent', async () => {
      const { notifications: list } = await call(
        notifications.listMyNotifications.bind(notifications),
        { pageSize: 50, pageToken: '' },
        alice.token,
      );
      const sent = list.filter((n) => n.status === NotificationStatus.NOTIFICATION_STATUS_SENT);
      return sent.length >= expected.length ? sent : undefined;
    });
    expect(log.map((n) => n.kind).sort()).toEqual([...expected].sort());
    expect(e2e.mailTo(alice.email)).toHaveLength(expected.length);
  });

  it('shows nobody else any of a user’s orders, payments or notifications', async () => {
    const { users, notifications } = e2e;
    const owner = await e2e.signUp();
    const stranger = await e2e.signUp();
    const placed = await call(
      users.placeOrder.bind(users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: owner.cardId },
      owner.token,
    );
    const orderId = placed.order?.id ?? '';

    expect((await failure(call(users.getMyOrder.bind(users), { orderId }, stranger.token))).code).toBe(
      status.NOT_FOUND,
    );
    const cancel = call(users.cancelMyOrder.bind(users), { idempotencyKey: randomUUID(), orderId }, stranger.token);
    expect((await failure(cancel)).code).toBe(status.NOT_FOUND);
    const theirs = await call(users.listMyOrders.bind(users), { pageSize: 100, pageToken: '' }, stranger.token);
    expect(theirs.orders).toEqual([]);
    // Ordering with someone else's card is refused as if the card did not exist.
    const withOwnersCard = await call(
      users.placeOrder.bind(users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: owner.cardId },
      stranger.token,
    );
    expect(withOwnersCard.order?.status).toBe(OrderStatus.ORDER_STATUS_PAYMENT_FAILED);
    expect(withOwnersCard.order?.statusReason).toMatch(/payment method not found/);

    const strangersLog = await call(
      notifications.listMyNotifications.bind(notifications),
      { pageSize: 100, pageToken: '' },
      stranger.token,
    );
    expect(strangersLog.notifications.every((n) => !n.body.includes(orderId) && !n.subject.includes(orderId))).toBe(
      true,
    );
  });

  it('gives one effect and the same answer for a repeated request', async () => {
    const { users } = e2e;
    const registration = {
      idempotencyKey: randomUUID(),
      email: `${randomUUID()}@example.com`,
      password: 'a long enough password',
      displayName: 'Twice',
    };
    const first = await call(users.register.bind(users), registration);
    const again = await call(users.register.bind(users), registration);
    expect(again.user?.id).toBe(first.user?.id);
    const otherKey = call(users.register.bind(users), { ...registration, idempotencyKey: randomUUID() });
    expect((await failure(otherKey)).code).toBe(status.ALREADY_EXISTS);

    const buyer = await e2e.signUp();
    const request = { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: buyer.cardId };
    // Five copies at once, as a client retrying on a flaky network might send them.
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => call(users.placeOrder.bind(users), request, buyer.token)),
    );
    const ids = new Set(answers.map((a) => a.order?.id));
    expect(ids.size).toBe(1);
    const orderId = answers[0]?.order?.id;
    const later = await call(users.placeOrder.bind(users), request, buyer.token);
    expect(later.order?.id).toBe(orderId);
    expect(later.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);

    const reused = call(
      users.placeOrder.bind(users),
      { ...request, lines: [{ sku: 'TEE-002', quantity: 1 }] },
      buyer.token,
    );
    expect((await failure(reused)).code).toBe(status.ALREADY_EXISTS);

    const orders = await query(e2e.databaseUrl('order'), 'SELECT id FROM orders WHERE user_id = $1', [buyer.userId]);
    expect(orders).toHaveLength(1);
    const payments = await query(e2e.databaseUrl('payment'), 'SELECT status FROM payments WHERE order_id = $1', [
      orderId,
    ]);
    expect(payments).toEqual([{ status: 'SUCCEEDED' }]);
  });

  it('answers bad input with INVALID_ARGUMENT naming the field, and writes nothing', async () => {
    const { users } = e2e;
    const buyer = await e2e.signUp();
    const cases: [Promise<unknown>, string][] = [
      [
        call(users.register.bind(users), {
          idempotencyKey: 'k1',
          email: 'not-an-email',
          password: 'long enough pw',
          displayName: 'x',
        }),
        'email: must be an email address',
      ],
      [
        call(users.register.bind(users), {
          idempotencyKey: 'k2',
          email: 'a@example.com',
          password: 'short',
          displayName: 'x',
        }),
        'password: must be at least 10 characters',
      ],
      [
        call(
          users.placeOrder.bind(users),
          { idempotencyKey: '', lines: mug, paymentMethodId: buyer.cardId },
          buyer.token,
        ),
        'idempotency_key: is required',
      ],
      [
        call(
          users.placeOrder.bind(users),
          { idempotencyKey: randomUUID(), lines: [{ sku: 'MUG-001', quantity: 0 }], paymentMethodId: buyer.cardId },
          buyer.token,
        ),
        'lines[0].quantity: must be at least 1',
      ],
      [
        call(
          users.placeOrder.bind(users),
          { idempotencyKey: randomUUID(), lines: [{ sku: 'NOPE', quantity: 1 }], paymentMethodId: buyer.cardId },
          buyer.token,
        ),
        'lines[0].sku: no product with SKU "NOPE"',
      ],
      [
        call(
          users.placeOrder.bind(users),
          { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: 'x' },
          buyer.token,
        ),
        'payment_method_id: must be a UUID',
      ],
      [
        call(
          users.addPaymentMethod.bind(users),
          { idempotencyKey: randomUUID(), cardNumber: '4242424242424241', expMonth: 1, expYear: 2031, holderName: 'x' },
          buyer.token,
        ),
        'card_number: is not a valid card number',
      ],
      [call(users.listMyOrders.bind(users), { pageSize: 10, pageToken: 'forged' }, buyer.token), 'page_token'],
    ];
    for (const [attempt, message] of cases) {
      const error = await failure(attempt);
      expect({ code: error.code, details: error.details }).toEqual({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining(message),
      });
    }
    const orders = await query(e2e.databaseUrl('order'), 'SELECT id FROM orders WHERE user_id = $1', [buyer.userId]);
    expect(orders).toEqual([]);
  });

  it('refuses calls without a valid access token, and publishes the key that verifies them', async () => {
    const { users } = e2e;
    expect((await failure(call(users.getProfile.bind(users), {}))).code).toBe(status.UNAUTHENTICATED);
    const forged = call(users.getProfile.bind(users), {}, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.x');
    expect((await failure(forged)).code).toBe(status.UNAUTHENTICATED);
    const wrongPassword = call(users.login.bind(users), { email: 'nobody@example.com', password: 'whatever it is' });
    expect((await failure(wrongPassword)).code).toBe(status.UNAUTHENTICATED);

    const response = await fetch(`http://127.0.0.1:${e2e.settings.jwksPort}/.well-known/jwks.json`);
    const jwks = (await response.json()) as { keys: { kty: string; crv: string; alg: string }[] };
    expect(jwks.keys).toEqual([expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256' })]);
  });

  it('lists its API through server reflection on every service', async () => {
    const expected = {
      user: 'ordermesh.user.v1.UserService',
      order: 'ordermesh.order.v1.OrderService',
      payment: 'ordermesh.payment.v1.PaymentService',
      notification: 'ordermesh.notification.v1.NotificationService',
    } as const;
    for (const [name, service] of Object.entries(expected)) {
      const listed = await listServicesByReflection(e2e.platform.address(name as keyof typeof expected));
      expect(listed).toEqual([service]);
    }
  });

  it('is callable from the command line with `npm run grpc`, by reflection', async () => {
    const address = e2e.platform.address('user');
    const grpc = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--experimental-strip-types', '--no-warnings', join(ROOT, 'tools/grpc/main.ts'), '--addr', address, ...args],
          { env: { ...process.env, ...env } },
          (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
        ),
      );

    const listed = await grpc(['list']);
    expect(listed.stdout.split('\n')).toEqual(expect.arrayContaining(['ordermesh.user.v1.UserService/PlaceOrder']));

    const email = `${randomUUID()}@example.com`;
    const registration = {
      idempotencyKey: randomUUID(),
      email,
      password: 'a long enough password',
      displayName: 'Cli',
    };
    const registered = await grpc(['Register', JSON.stringify(registration)]);
    expect(registered).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(registered.stdout)).toMatchObject({ user: { email, displayName: 'Cli' } });
    const login = await grpc(['UserService/Login', JSON.stringify({ email, password: 'a long enough password' })]);
    const { accessToken } = JSON.parse(login.stdout) as { accessToken: string };
    const profile = await grpc(['ordermesh.user.v1.UserService/GetProfile'], { ORDERMESH_TOKEN: accessToken });
    expect(JSON.parse(profile.stdout)).toMatchObject({ user: { email } });

    // Failures say what is wrong: the call's status, or the request's mistake before any call.
    expect(await grpc(['GetProfile'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^ERROR: UNAUTHENTICATED \(16\): /),
    });
    const unknownField = await grpc(['Login', '{"email":"a@example.com","pasword":"x"}']);
    expect(unknownField).toMatchObject({ code: 2, stderr: expect.stringContaining('"pasword" is unknown') });
    const unknownMethod = await grpc(['Logon']);
    expect(unknownMethod).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no method "Logon"; there are: UserService/Register'),
    });
    expect(await grpc(['Login', '{email}'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('the request is not JSON'),
    });
    expect(await grpc(['--deadline-ms', 'soon', 'Login'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--deadline-ms "soon"'),
    });
  });

  it('serves a client that sets no deadline, bounding the downstream calls itself', async () => {
    const { users } = e2e;
    const buyer = await e2e.signUp();
    const placed = await call(
      users.placeOrder.bind(users),
      { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: buyer.cardId },
      buyer.token,
      { deadline: false },
    );
    expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    const view = await call(users.getMyOrder.bind(users), { orderId: placed.order?.id ?? '' }, buyer.token, {
      deadline: false,
    });
    expect(view.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
  });
});
