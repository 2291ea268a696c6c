import { afterAll, describe, expect, it } from '@jest/globals';
import { connectDatabase, queryOneRow, sql } from '@ordermesh/storage';

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
