/**
 * `npm run demo`: walks the public API of a running platform (`npm start`):
 * register, log in, add a card, place an order, watch the notifications arrive.
 */
import { randomUUID } from 'node:crypto';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { NotificationServiceClient, NotificationStatus } from '@ordermesh/proto/notification';
import { OrderStatus } from '@ordermesh/proto/order';
import { UserServiceClient } from '@ordermesh/proto/user';

const userTarget = process.env.USER_SERVICE_ADDR ?? '127.0.0.1:50051';
const notificationTarget = process.env.NOTIFICATION_SERVICE_ADDR ?? '127.0.0.1:50054';
const users = new UserServiceClient(userTarget, credentials.createInsecure());
const notifications = new NotificationServiceClient(notificationTarget, credentials.createInsecure());

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
/** Calls a unary method with a 10 s deadline and optional metadata. */
function call<Req, Res>(
  method: (request: Req, metadata: Metadata, options: { deadline: Date }, callback: Callback<Res>) => unknown,
  request: Req,
  metadata = new Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) =>
    method(request, metadata, { deadline: new Date(Date.now() + 10_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

const step = (text: string) => console.log(`\n▶ ${text}`);
/** Money as sent (integer minor units): two decimals covers the demo's EUR. */
const money = (amount?: { amountMinor: number; currency: string }) =>
  amount
    ? new Intl.NumberFormat('en', { style: 'currency', currency: amount.currency }).format(amount.amountMinor / 100)
    : '?';
const started = Date.now();

const email = `demo-${Date.now()}@example.com`;
step(`Register ${email}`);
const { user } = await call(users.register.bind(users), {
  idempotencyKey: randomUUID(),
  email,
  password: 'correct horse battery staple',
  displayName: 'Demo Customer',
});
console.log(`  user id ${user?.id}`);

step('Log in');
const login = await call(users.login.bind(users), { email, password: 'correct horse battery staple' });
const auth = new Metadata();
auth.set('authorization', `Bearer ${login.accessToken}`);
console.log(`  access token valid until ${login.expiresAt?.toISOString()}`);

step('Add a card (4242…, a test card the simulated provider accepts)');
const { paymentMethod } = await call(
  users.addPaymentMethod.bind(users),
  {
    idempotencyKey: randomUUID(),
    cardNumber: '4242424242424242',
    expMonth: 12,
    expYear: 2030,
    holderName: 'Demo Customer',
  },
  auth,
);
console.log(`  ${paymentMethod?.brand} ending ${paymentMethod?.last4}`);

step('List products');
const { products } = await call(users.listProducts.bind(users), {}, auth);
for (const p of products) console.log(`  ${p.sku}  ${p.name}  ${money(p.price)}`);

step('Place an order: 2 × MUG-001 and 1 × STK-003');
const placed = await call(
  users.placeOrder.bind(users),
  {
    idempotencyKey: randomUUID(),
    lines: [
      { sku: 'MUG-001', quantity: 2 },
      { sku: 'STK-003', quantity: 1 },
    ],
    paymentMethodId: paymentMethod?.id ?? '',
  },
  auth,
);
console.log(
  `  order ${placed.order?.id}: ${OrderStatus[placed.order?.status ?? 0]}, total ${money(placed.order?.total)}`,
);
console.log(`  "${placed.message}"`);

step('Wait for the notifications (welcome, order placed, payment succeeded)');
const deadline = Date.now() + 20_000;
let sent: string[] = [];
while (Date.now() < deadline) {
  const { notifications: list } = await call(
    notifications.listMyNotifications.bind(notifications),
    { pageSize: 20, pageToken: '' },
    auth,
  );
  sent = list
    .filter((n) => n.status === NotificationStatus.NOTIFICATION_STATUS_SENT)
    .map((n) => `${n.kind}: ${n.subject}`);
  if (sent.length >= 3) break;
  await new Promise((r) => setTimeout(r, 300));
}
for (const line of sent) console.log(`  ✉ ${line}`);
users.close();
notifications.close();
if (sent.length < 3) {
  console.error(`\nOnly ${sent.length} of 3 notifications arrived in 20 s: is NotificationService running?`);
  process.exit(1);
}
console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
