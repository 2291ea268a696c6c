import { serviceMeter } from '@ordermesh/runtime';
import { inTransaction } from '@ordermesh/storage';
import type pg from 'pg';
import { OrderStatus } from './generated/prisma/enums.js';

/** At most one count per this interval, however many scrapers ask, and whether or not it worked: it scans the orders table. */
const REFRESH_MS = 30_000;
/** The server cancels a count that takes longer, so a scrape's scan never outlives the scrape. */
const COUNT_TIMEOUT_MS = 2_000;

/*
 * One core at most (no parallel workers: a parallel scan of a large table took
 * both of a small machine's cores from the requests) and cancelled by the
 * server when it runs late, rather than abandoned to run on.
 */
const COUNT_SETTINGS = [
  `SET LOCAL statement_timeout = ${COUNT_TIMEOUT_MS}`,
  'SET LOCAL max_parallel_workers_per_gather = 0',
];
const COUNT_BY_STATUS = 'SELECT status::text AS status, count(*)::int AS count FROM orders GROUP BY status';

/** Orders per status, counted in the database; undefined when the count failed or ran out of time. */
export async function countOrdersByStatus(pool: pg.Pool): Promise<Map<string, number> | undefined> {
  try {
    const rows = await inTransaction(
      pool,
      async (connection) => {
        for (const setting of COUNT_SETTINGS) await connection.query(setting);
        return (await connection.query<{ status: string; count: number }>(COUNT_BY_STATUS)).rows;
      },
      'BEGIN READ ONLY',
    );
    return new Map(rows.map((row) => [row.status, row.count]));
  } catch {
    return undefined;
  }
}

/**
 * ordermesh.orders{order.status}: how many orders are in each state, counted
 * in the database (so every replica reports the same numbers; dashboards take
 * the max across replicas). States with no orders report 0, so a panel shows
 * them rather than a gap.
 */
export function observeOrdersByState(pool: pg.Pool): () => void {
  const gauge = serviceMeter('@ordermesh/order').createObservableGauge('ordermesh.orders', {
    description: 'Orders by state',
    unit: '{order}',
  });
  let counts: Map<string, number> | undefined;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  const callback = async (result: { observe(value: number, attributes: Record<string, string>): void }) => {
    if (Date.now() - attemptedAt >= REFRESH_MS) {
      attemptedAt = Date.now();
      counts = (await countOrdersByStatus(pool)) ?? counts;
    }
    if (!counts) return;
    for (const status of Object.values(OrderStatus)) {
      result.observe(counts.get(status) ?? 0, { 'ordermesh.order.status': status.toLowerCase() });
    }
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}
