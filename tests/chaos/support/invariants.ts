/**
 * The chaos suite's invariants, read from the services' own databases and the
 * mail sink after each scenario, over everything that happened since the
 * suite began (not just the last scenario), so a late duplicate is caught too.
 */
import { PaymentSucceeded } from '@ordermesh/proto/events';
import type { E2E } from '@ordermesh/testing';
import { eventually, query } from '@ordermesh/testing';
import type { AcceptedOrder } from './traffic.ts';

export interface InvariantResult {
  name: string;
  ok: boolean;
  detail: string;
}

const PUBLISHERS = ['user', 'order', 'payment'] as const;

/** Waits until none of `orders` is PENDING_PAYMENT any more; resolves to how long that took (ms). */
export async function waitForSettlement(e2e: E2E, orders: readonly AcceptedOrder[], timeoutMs = 30_000) {
  const startedAt = performance.now();
  const ids = orders.map((o) => o.orderId);
  await eventually(
    `${ids.length} orders to leave PENDING_PAYMENT`,
    async () => {
      const [row] = await query<{ n: number }>(
        e2e.databaseUrl('order'),
        "SELECT count(*)::int AS n FROM orders WHERE id = ANY($1::uuid[]) AND status = 'PENDING_PAYMENT'",
        [ids],
      );
      return row?.n === 0;
    },
    timeoutMs,
  );
  return performance.now() - startedAt;
}

/** Every order UserService accepted exists exactly once, under the idempotency key it was placed with. */
async function ordersExistOnce(e2e: E2E, accepted: readonly AcceptedOrder[]): Promise<InvariantResult> {
  const rows = await query<{ id: string; key: string }>(
    e2e.databaseUrl('order'),
    'SELECT id::text AS id, idempotency_key AS key FROM orders WHERE id = ANY($1::uuid[])',
    [accepted.map((o) => o.orderId)],
  );
  const found = new Map(rows.map((r) => [r.id, r.key]));
  const missing = accepted.filter((o) => found.get(o.orderId) !== o.idempotencyKey).length;
  const [duplicates] = await query<{ n: number }>(
    e2e.databaseUrl('order'),
    'SELECT count(*)::int AS n FROM (SELECT 1 FROM orders GROUP BY user_id, idempotency_key HAVING count(*) > 1) d',
  );
  const ok = missing === 0 && duplicates?.n === 0 && rows.length === accepted.length;
  return {
    name: 'orders once',
    ok,
    detail: `${accepted.length} accepted, ${rows.length} found, ${missing} missing, ${duplicates?.n} keys duplicated`,
  };
}

/**
 * No order is charged twice: at most one payment row and one payment.succeeded
 * event per order, and every accepted order that is PAID has its SUCCEEDED payment.
 */
async function chargedOnce(e2e: E2E, accepted: readonly AcceptedOrder[]): Promise<InvariantResult> {
  const events = await query<{ payload: Buffer }>(
    e2e.databaseUrl('payment'),
    "SELECT payload FROM outbox_events WHERE routing_key = 'payment.succeeded'",
  );
  const chargesPerOrder = new Map<string, number>();
  for (const { payload } of events) {
    const { orderId } = PaymentSucceeded.decode(payload);
    chargesPerOrder.set(orderId, (chargesPerOrder.get(orderId) ?? 0) + 1);
  }
  const chargedTwice = [...chargesPerOrder.values()].filter((n) => n > 1).length;
  const [paymentRows] = await query<{ n: number }>(
    e2e.databaseUrl('payment'),
    'SELECT count(*)::int AS n FROM (SELECT 1 FROM payments GROUP BY order_id HAVING count(*) > 1) d',
  );
  const paid = await query<{ id: string }>(
    e2e.databaseUrl('order'),
    "SELECT id::text AS id FROM orders WHERE id = ANY($1::uuid[]) AND status = 'PAID'",
    [accepted.map((o) => o.orderId)],
  );
  const succeeded = new Set(
    (
      await query<{ orderId: string }>(
        e2e.databaseUrl('payment'),
        'SELECT order_id::text AS "orderId" FROM payments WHERE status = \'SUCCEEDED\' AND order_id = ANY($1::uuid[])',
        [paid.map((p) => p.id)],
      )
    ).map((r) => r.orderId),
  );
  const paidWithoutPayment = paid.filter((p) => !succeeded.has(p.id)).length;
  return {
    name: 'charged once',
    ok: chargedTwice === 0 && paymentRows?.n === 0 && paidWithoutPayment === 0,
    detail: `${chargesPerOrder.size} charged, ${chargedTwice} twice, ${paidWithoutPayment} paid without a payment`,
  };
}

type CommittedEvent = { eventId: string };
type Logged = { eventId: string; recipient: string; subject: string; status: string };

async function committedEvents(e2e: E2E): Promise<CommittedEvent[]> {
  const perService = await Promise.all(
    PUBLISHERS.map((name) =>
      query<{ eventId: string }>(e2e.databaseUrl(name), 'SELECT event_id::text AS "eventId" FROM outbox_events'),
    ),
  );
  return perService.flat();
}

const notificationLog = (e2e: E2E) =>
  query<Logged>(
    e2e.databaseUrl('notification'),
    'SELECT event_id::text AS "eventId", recipient, subject, status::text AS status FROM notifications',
  );

const countBy = (keys: readonly string[]) => {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
};

/** Waits until the notification log and the mail sink have caught up with every committed event. */
export async function waitForNotifications(e2e: E2E, timeoutMs = 30_000): Promise<void> {
  await eventually(
    'every committed event to be notified',
    async () => {
      const [events, log] = await Promise.all([committedEvents(e2e), notificationLog(e2e)]);
      return log.filter((l) => l.status === 'SENT').length >= events.length && e2e.mail.length >= events.length;
    },
    timeoutMs,
  );
}

/**
 * Every event committed to an outbox produced exactly one notification, logged
 * SENT, and exactly one email in the sink: waits for delivery to catch up, then
 * a little longer so that a late duplicate would be seen.
 */
async function oneNotificationPerEvent(e2e: E2E, timeoutMs: number): Promise<InvariantResult> {
  let caughtUp = true;
  try {
    await waitForNotifications(e2e, timeoutMs);
  } catch {
    caughtUp = false;
  }
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const [events, log] = await Promise.all([committedEvents(e2e), notificationLog(e2e)]);
  const logged = new Map(log.map((l) => [l.eventId, l]));
  const unnotified = events.filter((e) => logged.get(e.eventId)?.status !== 'SENT').length;
  const committed = new Set(events.map((e) => e.eventId));
  const unexplained = log.filter((l) => !committed.has(l.eventId)).length;
  // The sink must hold exactly the emails the log says were sent: none lost, none twice.
  const expected = countBy(log.filter((l) => l.status === 'SENT').map((l) => `${l.recipient}\n${l.subject}`));
  const received = countBy(e2e.mail.flatMap((m) => m.to.map((to) => `${to}\n${m.subject}`)));
  let mailMismatches = 0;
  for (const key of new Set([...expected.keys(), ...received.keys()])) {
    if (expected.get(key) !== received.get(key)) mailMismatches += 1;
  }
  return {
    name: 'one notification per event',
    ok: caughtUp && unnotified === 0 && unexplained === 0 && mailMismatches === 0,
    detail:
      `${events.length} events, ${log.length} logged, ${e2e.mail.length} emails; ` +
      `${unnotified} not notified, ${unexplained} without an event, ${mailMismatches} email mismatches`,
  };
}

export async function checkInvariants(
  e2e: E2E,
  accepted: readonly AcceptedOrder[],
  deliveryTimeoutMs = 30_000,
): Promise<InvariantResult[]> {
  return [
    await ordersExistOnce(e2e, accepted),
    await chargedOnce(e2e, accepted),
    await oneNotificationPerEvent(e2e, deliveryTimeoutMs),
  ];
}

export const invariantText = (results: readonly InvariantResult[]) =>
  results.every((r) => r.ok)
    ? `all ${results.length} hold`
    : results
        .filter((r) => !r.ok)
        .map((r) => `${r.name} BROKEN`)
        .join(', ');
