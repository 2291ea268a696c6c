/**
 * A pgbench-like ceiling for PlaceOrder: what PostgreSQL alone achieves when
 * closed-loop clients send, per order, the statements the platform sends for
 * one PlaceOrder, as named prepared statements (pgbench -M prepared), with no
 * service in between. The statements are the services' own, not copies: the order and payment
 * stores' exported builders sent by kit queryRows, and NotificationService's store itself. Runs on
 * the _bench databases, so the tables (the million seeded orders among them) are the ones the
 * platform writes to, and removes
 * every row it wrote when it is done.
 *
 * Per order, as services/{order,payment,notification}/src/store.ts and
 * services/kit/messaging/src/outbox.ts send them:
 *   order:        insertOrder (order, item, outbox event in one CTE), transition to PAID
 *   payment:      startCharge (card read and payment insert), transition to SUCCEEDED with its outbox event
 *   relays:       claim and mark-sent, per batch: by default one relay loop per database, as each
 *                 service runs one, woken by each commit that wrote an event and batching what has
 *                 piled up meanwhile and in the 10 ms it waits after a wake-up (kit OutboxRelay.run);
 *                 or, with relay 'per-event', the worst case of one batch per event, run by the
 *                 client in its script
 *   notification: per event (order.placed, payment.succeeded), the store's own deliverOnce with a
 *                 send that returns at once: BEGIN, INSERT_SENT, COMMIT per batch of the events that
 *                 came while its DELIVERY_BATCHES_IN_FLIGHT transactions were busy
 * Not sent: what the services cache (catalogue, recipients) and the relays' idle polling.
 */
import { createHash, randomUUID } from 'node:crypto';
import { OUTBOX_RELAY_DEFAULTS, outboxStatements } from '@ordermesh/messaging';
import { OrderPlaced, PaymentSucceeded } from '@ordermesh/proto/events';
import { sleep } from '@ordermesh/runtime';
import { queryRows } from '@ordermesh/storage';
import pg from 'pg';
// The services' own statements and store, built: the ceiling sends exactly what they send.
import { NOTIFICATION_POOL_SIZE, PostgresNotificationStore } from '../../services/notification/dist/store.js';
import { orderStatements } from '../../services/order/dist/store.js';
import { paymentStatements } from '../../services/payment/dist/store.js';
import { CpuMeter, pidsOfCommand } from './proc-stats.ts';

export type CeilingDatabase = 'order' | 'payment' | 'notification';

export interface CeilingOptions {
  /** Database name → connection string (the platform's _bench databases). */
  urls: Record<CeilingDatabase, string>;
  /** Orders in flight, like the closed-loop step it is compared with. */
  clients: number;
  durationMs: number;
  /** Unmeasured orders first: connections opened, statements prepared, caches warm. */
  warmupMs: number;
  /** Connections per database; the platform's own pool sizes unless given. */
  connections?: Record<CeilingDatabase, number>;
  /** How the outbox relays' statements are sent; see the top of this file. */
  relay?: 'loop' | 'per-event';
}

export interface CeilingResult {
  ordersPerSecond: number;
  orders: number;
  errors: number;
  /** All PostgreSQL processes on the machine, per order completed. */
  postgresCpuMsPerOrder: number;
  /** This process (the clients), per order completed. */
  clientCpuMsPerOrder: number;
  clients: number;
  durationMs: number;
  connections: Record<CeilingDatabase, number>;
  relay: 'loop' | 'per-event';
  /** Events the relays marked sent per claim that found any, over both databases. */
  eventsPerBatch: number;
}

/**
 * The pool sizes of the services: kit connectDatabase's default of 10, NotificationService's
 * NOTIFICATION_POOL_SIZE (8). The same counts as the platform's compare like with like, and
 * a connection per client per database (3 × 64) would not fit PostgreSQL's max_connections of 100.
 */
export const PLATFORM_CONNECTIONS: Record<CeilingDatabase, number> = {
  order: 10,
  payment: 10,
  notification: NOTIFICATION_POOL_SIZE,
};

/** The bench's 16 buyers, as scratch users that exist nowhere else; every row written is theirs. */
const SCRATCH_USERS = Array.from(
  { length: 16 },
  (_, i) => `00000000-0000-4000-8000-${(0xce11_0000 + i).toString(16).padStart(12, '0')}`,
);
/**
 * Routing keys of the ceiling's outbox rows: bound to no queue, so should a relay publish one
 * (a platform left running on these databases) it lands in the exchange's unrouted queue, not
 * in NotificationService; and the claims below take only these rows, never a platform event.
 */
const CEILING_KEY = { placed: 'ceiling.order.placed', succeeded: 'ceiling.payment.succeeded' } as const;
/** Each scratch user's card: the user's id with another variant digit. */
const SCRATCH_CARD = (userId: string) => userId.replace('-8000-', '-9000-');

const RELAY = OUTBOX_RELAY_DEFAULTS;

/** The bench's order: one mug (tools/bench/scenarios.ts placeOrder), priced from the catalogue the service caches. */
const MUG = { sku: 'MUG-001', name: 'ordermesh mug', priceMinor: 1250, currency: 'EUR' };
/** order config: PAYMENT_TIMEOUT_MS + 1 s before the settlement worker may look at the order. */
const SETTLEMENT_DELAY_MS = 3_500;
/** The bench's services export no traces, so the events' trace headers are empty (as in outbox_events). */
/** The ceiling's events carry no trace context. */
const NO_HEADERS: Record<string, string> = {};

type Pools = Record<CeilingDatabase, pg.Pool>;

interface Outcome {
  orders: number;
  errors: number;
}

/** One PlaceOrder's statements, one after the other, as one pgbench client runs its script. */
async function placeOrder(
  pools: Pools,
  relays: Relays,
  notifications: PostgresNotificationStore,
  userId: string,
): Promise<void> {
  const orderId = randomUUID();
  const paymentId = randomUUID();
  const now = new Date();
  const total = { amountMinor: MUG.priceMinor, currency: MUG.currency };
  const placed = {
    eventId: randomUUID(),
    payload: Buffer.from(OrderPlaced.encode({ orderId, userId, total, itemCount: 1, occurredAt: now }).finish()),
  };
  const succeeded = {
    eventId: randomUUID(),
    payload: Buffer.from(
      PaymentSucceeded.encode({ paymentId, orderId, userId, amount: total, occurredAt: now }).finish(),
    ),
  };
  const placedEvent = { ...placed, routingKey: CEILING_KEY.placed, messageType: 'ordermesh.events.v1.OrderPlaced' };
  await queryRows(
    pools.order,
    orderStatements.insert(
      orderId,
      {
        userId,
        idempotencyKey: randomUUID(),
        requestHash: createHash('sha256').update(orderId).digest('hex'),
        currency: MUG.currency,
        totalMinor: BigInt(MUG.priceMinor),
        paymentMethodId: SCRATCH_CARD(userId),
        items: [{ sku: MUG.sku, name: MUG.name, quantity: 1, unitPriceMinor: BigInt(MUG.priceMinor) }],
        nextPaymentAttemptAt: new Date(now.getTime() + SETTLEMENT_DELAY_MS),
      },
      { ...placedEvent, headers: NO_HEADERS },
    ),
  );
  relays.order.notify();
  const [started] = await queryRows<{ id: string | null }>(
    pools.payment,
    paymentStatements.startCharge(paymentId, {
      orderId,
      userId,
      paymentMethodId: SCRATCH_CARD(userId),
      amountMinor: BigInt(MUG.priceMinor),
      currency: MUG.currency,
      chargeKey: `charge:${orderId}`,
    }),
  );
  if (started?.id !== paymentId) throw new Error('the charge inserted no payment');
  await queryRows(
    pools.payment,
    paymentStatements.transition(
      paymentId,
      'PROCESSING',
      { status: 'SUCCEEDED' },
      {
        ...succeeded,
        routingKey: CEILING_KEY.succeeded,
        messageType: 'ordermesh.events.v1.PaymentSucceeded',
        headers: NO_HEADERS,
      },
    ),
  );
  relays.payment.notify();
  await queryRows(
    pools.order,
    orderStatements.transition(orderId, ['PENDING_PAYMENT'], { status: 'PAID', statusReason: '' }),
  );
  await relays.order.afterOrder();
  await relays.payment.afterOrder();
  const recipient = `ceiling-${userId.slice(-2)}@bench.invalid`;
  await deliver(notifications, [
    placed.eventId,
    userId,
    'order.placed',
    recipient,
    `Order ${orderId} received`,
    `Hi ceiling,\n\nThank you for your order ${orderId}: 1 item for €12.50.\n\nWe will write again once the payment has gone through.\n\nThe ordermesh team`,
  ]);
  await deliver(notifications, [
    succeeded.eventId,
    userId,
    'payment.succeeded',
    recipient,
    `Payment received for order ${orderId}`,
    `Hi ceiling,\n\nWe have received your payment of €12.50 for order ${orderId}.\n\nThe ordermesh team`,
  ]);
}

/**
 * One service's outbox relay: claim and mark-sent (the publish in between is the broker's,
 * not PostgreSQL's). As a loop it runs like kit OutboxRelay.run: a batch, then, unless it
 * was full, a sleep that the next commit with an event cuts short. Per event, the client
 * itself claims one event after each order, and there is no loop.
 */
class Relay {
  batches = 0;
  events = 0;
  private woken = false;
  private wakeUp: (() => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  private readonly pool: pg.Pool;
  private readonly mode: 'loop' | 'per-event';

  constructor(pool: pg.Pool, mode: 'loop' | 'per-event') {
    this.pool = pool;
    this.mode = mode;
  }

  start(): void {
    if (this.mode === 'loop') this.loop = this.run();
  }

  /** A commit wrote an event. */
  notify(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /** The client's part after each order: the worst case's batch of one. */
  async afterOrder(): Promise<void> {
    if (this.mode === 'per-event') await this.relayBatch(1);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      let relayed = 0;
      try {
        relayed = await this.relayBatch(RELAY.batchSize);
      } catch {
        // As the relay does, try again (here at the next wake-up) rather than give up.
      }
      if (relayed < RELAY.batchSize) {
        await this.sleep();
        // Woken by a commit, it lets the commits that follow join the batch, as OutboxRelay does.
        if (this.woken && !this.stopped) await sleep(RELAY.gatherMs);
      }
    }
  }

  private sleep(): Promise<void> {
    if (this.woken || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wakeUp?.(), RELAY.pollMs);
      this.wakeUp = () => {
        this.wakeUp = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async relayBatch(size: number): Promise<number> {
    // The relay's own claim, limited to the ceiling's rows: a platform event pending in the table stays the platform's.
    const claimed = await queryRows<{ event_id: string }>(
      this.pool,
      outboxStatements.claim(RELAY.leaseSeconds, size, 'ceiling.%'),
    );
    if (claimed.length === 0) return 0;
    await queryRows(this.pool, outboxStatements.markSent(claimed.map((row) => row.event_id)));
    this.batches += 1;
    this.events += claimed.length;
    return claimed.length;
  }
}

type Relays = Record<'order' | 'payment', Relay>;

/** A first delivery through NotificationService's store, whose send (SMTP's, not PostgreSQL's) returns at once. */
async function deliver(
  notifications: PostgresNotificationStore,
  [eventId, userId, kind, recipient, subject, body]: [string, string, string, string, string, string],
): Promise<void> {
  const notification = { eventId, userId, kind, channel: 'email', recipient, subject, body };
  if (!(await notifications.deliverOnce(notification, async () => {}))) {
    throw new Error(`event ${eventId} was delivered before`);
  }
}

async function closedLoop(
  placeOne: (userId: string) => Promise<void>,
  clients: number,
  durationMs: number,
): Promise<Outcome> {
  const outcome: Outcome = { orders: 0, errors: 0 };
  const endAt = performance.now() + durationMs;
  const client = async (index: number) => {
    const userId = SCRATCH_USERS[index % SCRATCH_USERS.length] as string;
    while (performance.now() < endAt) {
      try {
        await placeOne(userId);
        outcome.orders += 1;
      } catch {
        outcome.errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, index) => client(index)));
  return outcome;
}

/** Deletes every row of the scratch users and every ceiling event: what a run (or an interrupted one) left. */
async function removeScratchRows(pools: Pools): Promise<void> {
  const users = [SCRATCH_USERS];
  // order_items go with their orders (ON DELETE CASCADE).
  await pools.order.query('DELETE FROM orders WHERE user_id = ANY($1::uuid[])', users);
  await pools.order.query("DELETE FROM outbox_events WHERE routing_key LIKE 'ceiling.%'");
  await pools.payment.query('DELETE FROM payments WHERE user_id = ANY($1::uuid[])', users);
  await pools.payment.query("DELETE FROM outbox_events WHERE routing_key LIKE 'ceiling.%'");
  await pools.payment.query('DELETE FROM payment_methods WHERE user_id = ANY($1::uuid[])', users);
  await pools.notification.query('DELETE FROM notifications WHERE user_id = ANY($1::uuid[])', users);
}

/**
 * Dead row versions of the run, vacuumed away rather than left for autovacuum: until then
 * every claim's scan of the (sent_at, id) index visits each of them (a deleted row or an
 * old version is still an entry with sent_at NULL), which would slow the platform's next run.
 */
async function vacuumScratchTables(pools: Pools): Promise<void> {
  await pools.order.query('VACUUM orders, order_items, outbox_events');
  await pools.payment.query('VACUUM payments, payment_methods, outbox_events');
  await pools.notification.query('VACUUM notifications');
}

/** startCharge reads the user's card: one per scratch user, as each bench buyer has. */
async function addScratchCards(pool: pg.Pool): Promise<void> {
  await pool.query(
    `INSERT INTO payment_methods (id, user_id, idempotency_key, provider_token, brand, last4, exp_month, exp_year,
                                  holder_name)
     SELECT card::uuid, usr::uuid, 'ceiling', 'sim_tok_ceiling', 'visa', '4242', 12, 2035, 'ceiling'
       FROM unnest($1::text[], $2::text[]) AS scratch(card, usr)`,
    [SCRATCH_USERS.map(SCRATCH_CARD), SCRATCH_USERS],
  );
}

/** Opens every connection of every pool now, so that the CPU reading sees each backend from the start. */
async function openAll(pools: Pools, connections: Record<CeilingDatabase, number>): Promise<void> {
  for (const name of Object.keys(pools) as CeilingDatabase[]) {
    const held = await Promise.all(Array.from({ length: connections[name] }, () => pools[name].connect()));
    for (const connection of held) connection.release();
  }
}

export async function measurePgCeiling(options: CeilingOptions): Promise<CeilingResult> {
  const connections = options.connections ?? PLATFORM_CONNECTIONS;
  const pool = (name: CeilingDatabase) => {
    // No idle timeout: a connection closed and reopened mid-run would be a backend the CPU reading misses.
    const created = new pg.Pool({ connectionString: options.urls[name], max: connections[name], idleTimeoutMillis: 0 });
    created.on('error', () => {});
    return created;
  };
  const pools: Pools = { order: pool('order'), payment: pool('payment'), notification: pool('notification') };
  const mode = options.relay ?? 'loop';
  const relays: Relays = { order: new Relay(pools.order, mode), payment: new Relay(pools.payment, mode) };
  const notifications = new PostgresNotificationStore(pools.notification);
  const placeOne = (userId: string) => placeOrder(pools, relays, notifications, userId);
  try {
    await removeScratchRows(pools);
    await addScratchCards(pools.payment);
    await openAll(pools, connections);
    relays.order.start();
    relays.payment.start();
    await closedLoop(placeOne, options.clients, options.warmupMs);
    const relayed = () => ({
      batches: relays.order.batches + relays.payment.batches,
      events: relays.order.events + relays.payment.events,
    });
    const relayedBefore = relayed();
    const cpu = new CpuMeter(
      new Map([
        ['postgres', pidsOfCommand('postgres')],
        ['client', [process.pid]],
      ]),
    );
    const startedAt = performance.now();
    const outcome = await closedLoop(placeOne, options.clients, options.durationMs);
    const seconds = (performance.now() - startedAt) / 1000;
    const cores = cpu.read();
    const relayedAfter = relayed();
    if (outcome.orders === 0) throw new Error(`the pg ceiling completed no order (${outcome.errors} failed)`);
    const msPerOrder = (share: number | undefined) => ((share ?? 0) * seconds * 1000) / outcome.orders;
    return {
      ordersPerSecond: outcome.orders / seconds,
      orders: outcome.orders,
      errors: outcome.errors,
      postgresCpuMsPerOrder: msPerOrder(cores.get('postgres')),
      clientCpuMsPerOrder: msPerOrder(cores.get('client')),
      clients: options.clients,
      durationMs: options.durationMs,
      connections,
      relay: mode,
      eventsPerBatch:
        (relayedAfter.events - relayedBefore.events) / Math.max(1, relayedAfter.batches - relayedBefore.batches),
    };
  } finally {
    try {
      await Promise.all([relays.order.stop(), relays.payment.stop()]);
      await removeScratchRows(pools);
      await vacuumScratchTables(pools);
    } finally {
      await Promise.all(Object.values(pools).map((p) => p.end()));
    }
  }
}
