import type { BatchObservableResult } from '@opentelemetry/api';
import type { Logger, ShutdownStep } from '@ordermesh/runtime';
import { backoffDelay, readWithin, serviceMeter, sleep } from '@ordermesh/runtime';
import { empty, queryRows, raw, type Sql, sql } from '@ordermesh/storage';
import type pg from 'pg';
import type { OutboxRecord } from './events.js';
import { EventPublisher, type OutgoingEvent } from './publisher.js';

const meter = serviceMeter('@ordermesh/messaging');
const pendingEvents = meter.createObservableGauge('ordermesh.outbox.events.pending', {
  description: 'Outbox events not yet confirmed by the broker',
  unit: '{event}',
});
const oldestPendingAge = meter.createObservableGauge('ordermesh.outbox.oldest_pending.age', {
  description: 'Age of the oldest outbox event not yet confirmed by the broker (0 when none)',
  unit: 's',
});
/** A scrape gives up on the backlog query after this; the gauges then skip one reading. */
const BACKLOG_QUERY_TIMEOUT_MS = 2_000;

/**
 * The relay's statements, on the service's pg pool as named prepared statements
 * (kit database.ts): they run for every batch. Every service's schema has the
 * same outbox_events table, so one relay serves them all.
 */
export const outboxStatements = {
  backlog: () => sql`
    SELECT count(*)::int AS pending,
           COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest_age
      FROM outbox_events WHERE sent_at IS NULL`,
  /**
   * Leases up to `batchSize` unsent rows. `routingKeyLike`, when given, limits the
   * claim to matching rows (the bench's ceiling claims only its own). RETURNING
   * keeps no order, so the claimed rows are sorted again: events go out in the
   * order they were written.
   */
  claim: (leaseSeconds: number, batchSize: number, routingKeyLike?: string) => sql`
    WITH claimed AS (
      UPDATE outbox_events
         SET locked_until = now() + make_interval(secs => ${leaseSeconds}::float8), attempts = attempts + 1
       WHERE id IN (SELECT id FROM outbox_events
                     WHERE sent_at IS NULL AND (locked_until IS NULL OR locked_until < now())
                           ${routingKeyLike === undefined ? empty : sql`AND routing_key LIKE ${routingKeyLike}`}
                     ORDER BY id LIMIT ${batchSize}::int
                     FOR UPDATE SKIP LOCKED)
      RETURNING id, event_id::text AS event_id, routing_key, message_type, payload, headers, created_at)
    SELECT event_id, routing_key, message_type, payload, headers, created_at FROM claimed ORDER BY id`,
  release: (eventIds: readonly string[]) =>
    sql`UPDATE outbox_events SET locked_until = NULL WHERE event_id = ANY(${eventIds}::uuid[])`,
  markSent: (eventIds: readonly string[]) =>
    sql`UPDATE outbox_events SET sent_at = now(), locked_until = NULL WHERE event_id = ANY(${eventIds}::uuid[])`,
  deleteSent: (retentionHours: number) =>
    sql`DELETE FROM outbox_events WHERE sent_at < now() - make_interval(hours => ${retentionHours}::int)`,
};

interface ClaimedRow {
  event_id: string;
  routing_key: string;
  message_type: string;
  payload: Uint8Array;
  headers: Record<string, string> | null;
  created_at: Date;
}

export interface OutboxRelayOptions {
  batchSize?: number;
  /** How often to look for new rows when nobody calls notify(). */
  pollMs?: number;
  /**
   * After a notify() wakes the idle relay, how long it waits before claiming, so that rows
   * committed meanwhile go out in the same batch: one claim and one mark for all of them.
   */
  gatherMs?: number;
  /** How long a claim keeps other relay instances off a row, should this one die mid-batch. */
  leaseSeconds?: number;
  maxBackoffMs?: number;
  /** Sent rows older than this are deleted. */
  retentionHours?: number;
}

/** Why the relay's wait ended early: new rows were committed. */
const WOKEN = 'outbox rows committed';

/**
 * The relay's settings when a service gives none (the bench's PostgreSQL ceiling batches with the same).
 * gatherMs: a few milliseconds on an event nobody waits for; at about 100 orders/s a service's relay
 * otherwise claimed and marked two or three rows per batch (docs/performance-history.md).
 */
export const OUTBOX_RELAY_DEFAULTS = {
  batchSize: 100,
  pollMs: 500,
  gatherMs: 10,
  leaseSeconds: 30,
  maxBackoffMs: 10_000,
  retentionHours: 72,
} as const satisfies Required<OutboxRelayOptions>;

/**
 * Publishes the rows of the transactional outbox to RabbitMQ. A row is marked
 * sent only after the broker confirmed it; while the broker is down the relay
 * backs off and tries again, so events are delayed, never lost. Several
 * instances can run side by side: claims use FOR UPDATE SKIP LOCKED and a lease.
 * Delivery is at least once; consumers dedupe by event id.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private readonly gatherMs: number;
  private readonly leaseSeconds: number;
  private readonly maxBackoffMs: number;
  private readonly retentionHours: number;
  private readonly stopping = new AbortController();
  private wake = new AbortController();
  private loop: Promise<void> | undefined;
  private lastCleanup = 0;
  private readonly observeBacklog = async (observer: BatchObservableResult) => {
    const backlog = await readWithin(BACKLOG_QUERY_TIMEOUT_MS, () => this.backlog());
    if (!backlog) return;
    observer.observe(pendingEvents, backlog.pending);
    observer.observe(oldestPendingAge, backlog.oldestAgeSeconds);
  };

  constructor(
    private readonly pool: pg.Pool,
    private readonly publisher: EventPublisher,
    private readonly log: Logger,
    options: OutboxRelayOptions = {},
  ) {
    const defaults = OUTBOX_RELAY_DEFAULTS;
    this.batchSize = options.batchSize ?? defaults.batchSize;
    this.pollMs = options.pollMs ?? defaults.pollMs;
    this.gatherMs = options.gatherMs ?? defaults.gatherMs;
    this.leaseSeconds = options.leaseSeconds ?? defaults.leaseSeconds;
    this.maxBackoffMs = options.maxBackoffMs ?? defaults.maxBackoffMs;
    this.retentionHours = options.retentionHours ?? defaults.retentionHours;
  }

  start(): void {
    if (this.loop) return;
    // Measured at scrape time from the table itself, so the numbers hold whichever instance relays.
    meter.addBatchObservableCallback(this.observeBacklog, [pendingEvents, oldestPendingAge]);
    this.loop = this.run();
  }

  /** Asks the relay to look now: called after a transaction that wrote outbox rows commits. */
  notify(): void {
    // Once per wait: abort() with no reason builds a DOMException, stack trace included, on every call,
    // even on a signal already aborted, and this runs after every commit.
    if (!this.wake.signal.aborted) this.wake.abort(WOKEN);
  }

  async stop(): Promise<void> {
    meter.removeBatchObservableCallback(this.observeBacklog, [pendingEvents, oldestPendingAge]);
    this.stopping.abort();
    this.wake.abort();
    await this.loop;
  }

  /** Unsent events and the age of the oldest one (served by the (sent_at, id) index). */
  async backlog(): Promise<{ pending: number; oldestAgeSeconds: number }> {
    const [row] = await queryRows<{ pending: number; oldest_age: number }>(this.pool, outboxStatements.backlog());
    return { pending: row?.pending ?? 0, oldestAgeSeconds: row?.oldest_age ?? 0 };
  }

  /** Claims, publishes and marks one batch. Returns how many rows were published. */
  async relayOnce(): Promise<number> {
    const rows = await queryRows<ClaimedRow>(this.pool, outboxStatements.claim(this.leaseSeconds, this.batchSize));
    if (rows.length === 0) return 0;
    const eventIds = rows.map((row) => row.event_id);
    try {
      await this.publisher.publish(rows.map(toOutgoingEvent));
    } catch (error) {
      await queryRows(this.pool, outboxStatements.release(eventIds));
      throw error;
    }
    await queryRows(this.pool, outboxStatements.markSent(eventIds));
    return rows.length;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      this.wake = new AbortController();
      let published = 0;
      try {
        published = await this.relayOnce();
        if (failures > 0) this.log.info({ failures }, 'outbox relay recovered');
        failures = 0;
        await this.cleanup();
      } catch (error) {
        failures += 1;
        const delay = backoffDelay(failures, 250, this.maxBackoffMs);
        this.log.warn({ err: error, failures, retryInMs: delay }, 'outbox relay could not publish, will retry');
        await sleep(delay, this.stopping.signal);
        continue;
      }
      // A full batch means more rows are waiting: go again at once.
      if (published < this.batchSize) {
        await sleep(this.pollMs, AbortSignal.any([this.wake.signal, this.stopping.signal]));
        if (this.wake.signal.aborted && this.gatherMs > 0) await sleep(this.gatherMs, this.stopping.signal);
      }
    }
  }

  private async cleanup(): Promise<void> {
    if (Date.now() - this.lastCleanup < 60 * 60 * 1000) return;
    this.lastCleanup = Date.now();
    await queryRows(this.pool, outboxStatements.deleteSent(this.retentionHours));
  }
}

/**
 * The one way an outbox row is written: a common table expression,
 * `event AS (INSERT INTO outbox_events ...)`, that writes `event` once per row
 * of `source` (the name of the CTE that made the change). Put it in the
 * statement that makes the change, and the event is written exactly when the
 * change is, in the same transaction, at no extra round trip.
 */
export function outboxInsertCte(event: OutboxRecord, source: string): Sql {
  return sql`event AS (
    INSERT INTO outbox_events (event_id, routing_key, message_type, payload, headers)
    SELECT ${event.eventId}::uuid, ${event.routingKey}, ${event.messageType}, ${event.payload},
           ${JSON.stringify(event.headers)}::jsonb
      FROM ${raw(source)})`;
}

function toOutgoingEvent(row: ClaimedRow): OutgoingEvent {
  return {
    eventId: row.event_id,
    routingKey: row.routing_key,
    messageType: row.message_type,
    payload: Buffer.from(row.payload),
    headers: row.headers ?? {},
    occurredAt: row.created_at,
  };
}

/**
 * A service's outbox publishing, wired the same way everywhere: a confirming
 * publisher and the relay that feeds it, started now. `notify` wakes the relay
 * after a commit; the shutdown steps stop the relay, then close the publisher.
 */
export function startOutbox(
  pool: pg.Pool,
  settings: { amqpUrl: string; exchange: string; log: Logger; relay?: OutboxRelayOptions },
): { notify: () => void; shutdownSteps: ShutdownStep[] } {
  const publisher = new EventPublisher(settings.amqpUrl, settings.log, settings.exchange);
  const relay = new OutboxRelay(pool, publisher, settings.log, settings.relay);
  relay.start();
  return {
    notify: () => relay.notify(),
    shutdownSteps: [
      { name: 'outbox relay', run: () => relay.stop() },
      { name: 'broker', run: () => publisher.close() },
    ],
  };
}
