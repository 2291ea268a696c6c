import { readWithin, serviceMeter } from '@ordermesh/kit';
import type { Database } from './db.js';
import { OrderStatus } from './generated/prisma/enums.js';

/** At most one count per this interval, however many scrapers ask: it scans the orders table. */
const REFRESH_MS = 30_000;

/**
 * ordermesh.orders{order.status}: how many orders are in each state, counted
 * in the database (so every replica reports the same numbers; dashboards take
 * the max across replicas). States with no orders report 0, so a panel shows
 * them rather than a gap.
 */
export function observeOrdersByState(db: Database): () => void {
  const gauge = serviceMeter('@ordermesh/order').createObservableGauge('ordermesh.orders', {
    description: 'Orders by state',
    unit: '{order}',
  });
  let cached: { at: number; counts: Map<string, number> } | undefined;
  const count = async () => {
    const rows = await db.$queryRaw<{ status: string; count: number }[]>`
      SELECT status::text AS status, count(*)::int AS count FROM orders GROUP BY status`;
    return new Map(rows.map((row) => [row.status, row.count]));
  };
  const callback = async (result: { observe(value: number, attributes: Record<string, string>): void }) => {
    if (!cached || Date.now() - cached.at > REFRESH_MS) {
      const counts = await readWithin(2_000, count);
      if (counts) cached = { at: Date.now(), counts };
    }
    if (!cached) return;
    for (const status of Object.values(OrderStatus)) {
      result.observe(cached.counts.get(status) ?? 0, { 'ordermesh.order.status': status.toLowerCase() });
    }
  };
  gauge.addCallback(callback);
  return () => gauge.removeCallback(callback);
}
