/**
 * Fills the orders table for the ListMyOrders steps with SQL, not the API:
 * one user with SMALL_HISTORY orders, one with LARGE_HISTORY, and other users'
 * orders up to TABLE_ROWS rows, each order with one item. Done once; later
 * runs find the rows and skip it.
 */
import pg from 'pg';
import { LARGE_HISTORY, SMALL_HISTORY, TABLE_ROWS } from './settings.ts';

export async function seedOrderHistories(databaseUrl: string, smallUserId: string, largeUserId: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM orders WHERE user_id = $1 AND idempotency_key LIKE 'seed-%'",
      [largeUserId],
    );
    if ((rows[0]?.count ?? 0) >= LARGE_HISTORY) return;
    const startedAt = performance.now();
    await db.query('BEGIN');
    await db.query("DELETE FROM orders WHERE idempotency_key LIKE 'seed-%'");
    // Row n belongs to the large user, then the small one, then one of 10,000 others; each is n seconds old.
    await db.query(
      `INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, total_minor,
                           payment_method_id, created_at, updated_at)
       SELECT gen_random_uuid(),
              CASE WHEN n <= $1 THEN $3::uuid
                   WHEN n <= $1 + $2 THEN $4::uuid
                   ELSE md5((n % 10000)::text)::uuid END,
              'seed-' || n, 'seed', 'PAID', 'EUR', 1250, gen_random_uuid(),
              now() - make_interval(secs => n), now() - make_interval(secs => n)
         FROM generate_series(1, $5::int) AS n`,
      [LARGE_HISTORY, SMALL_HISTORY, largeUserId, smallUserId, TABLE_ROWS],
    );
    await db.query(
      `INSERT INTO order_items (order_id, sku, name, quantity, unit_price_minor)
       SELECT id, 'MUG-001', 'ordermesh mug', 1, 1250 FROM orders WHERE idempotency_key LIKE 'seed-%'`,
    );
    await db.query('COMMIT');
    await db.query('VACUUM ANALYZE orders');
    await db.query('VACUUM ANALYZE order_items');
    console.log(`seeded ${TABLE_ROWS} orders in ${((performance.now() - startedAt) / 1000).toFixed(0)} s`);
  } finally {
    await db.end();
  }
}
