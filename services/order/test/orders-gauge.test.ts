import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createMigratedDatabase } from '@ordermesh/testing';
import pg from 'pg';
import { countOrdersByStatus } from '../src/metrics.js';

let database: { url: string; drop: () => Promise<void> };
let pool: pg.Pool;

beforeAll(async () => {
  database = await createMigratedDatabase('order');
  pool = new pg.Pool({ connectionString: database.url, max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

describe('the orders-by-status count behind the ordermesh.orders gauge', () => {
  it('counts the orders in each status', async () => {
    await pool.query(
      `INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, currency, total_minor, payment_method_id, updated_at)
       SELECT gen_random_uuid(), gen_random_uuid(), 'k' || n, 'h', CASE WHEN n <= 3 THEN 'PAID' ELSE 'CANCELLED' END::"OrderStatus",
              'EUR', 100, gen_random_uuid(), now()
         FROM generate_series(1, 5) AS n`,
    );
    expect(await countOrdersByStatus(pool)).toEqual(
      new Map([
        ['PAID', 3],
        ['CANCELLED', 2],
      ]),
    );
  });

  it('is cancelled by the server when it runs late, instead of running on after the scrape gave up', async () => {
    const blocker = await pool.connect();
    try {
      // An exclusive lock makes the count wait for as long as the lock is held.
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE orders IN ACCESS EXCLUSIVE MODE');
      const startedAt = Date.now();
      expect(await countOrdersByStatus(pool)).toBeUndefined();
      expect(Date.now() - startedAt).toBeLessThan(10_000);
      const { rows } = await blocker.query<{ waiting: number }>(
        "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE query LIKE 'SELECT status::text%' AND state = 'active'",
      );
      expect(rows[0]?.waiting).toBe(0);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
  });
});
