import { afterAll, describe, expect, it } from '@jest/globals';
import { isTransientDatabaseError } from '@ordermesh/runtime';
import { connectDatabase, queryOneRow, queryRows, sql } from '@ordermesh/storage';

const pool = connectDatabase('postgresql://postgres@127.0.0.1:5432/postgres', { max: 1 });
afterAll(() => pool.end());

describe('queryOneRow', () => {
  it('returns the row a statement returns', async () => {
    expect(await queryOneRow<{ n: number }>(pool, sql`SELECT ${41}::int + 1 AS n`)).toEqual({ n: 42 });
  });

  it('throws, naming the statement, when it returns none', async () => {
    await expect(queryOneRow(pool, sql`SELECT 1 AS n\n  WHERE ${false}::boolean`)).rejects.toThrow(
      'no row from: SELECT 1 AS n WHERE $1::boolean',
    );
  });
});

describe('connectDatabase', () => {
  it('fails a statement that waits longer than connectionWaitMs for a connection, as transient', async () => {
    const busy = connectDatabase('postgresql://postgres@127.0.0.1:5432/postgres', { max: 1, connectionWaitMs: 200 });
    const held = await busy.connect();
    try {
      const startedAt = Date.now();
      const error: unknown = await queryRows(busy, sql`SELECT 1 AS n`).catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(Error);
      expect(isTransientDatabaseError(error)).toBe(true);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(190);
    } finally {
      held.release();
      await busy.end();
    }
  });

  it('serves a statement that waits less than connectionWaitMs', async () => {
    const busy = connectDatabase('postgresql://postgres@127.0.0.1:5432/postgres', { max: 1, connectionWaitMs: 5_000 });
    const held = await busy.connect();
    setTimeout(() => held.release(), 100);
    try {
      expect(await queryRows<{ n: number }>(busy, sql`SELECT 1 AS n`)).toEqual([{ n: 1 }]);
    } finally {
      await busy.end();
    }
  });
});
