import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';

/**
 * A statement with `$n` placeholders and their values, such as a Prisma.sql
 * fragment's `text` and `values`: composed with Prisma's builder, sent by pg.
 */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** A service's database: Prisma for the model queries, and its pool for the statements on the hot path. */
export interface DatabaseConnections<Client> {
  db: Client;
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** Connections in the pool, shared by Prisma and the plain statements. */
  max?: number;
  /** The server ends a transaction left idle this long, so a stuck caller cannot hold its locks for good. */
  maxTransactionIdleMs?: number;
}

/**
 * One pool per service, shared by Prisma (through its pg adapter) and the
 * statements that run on every request or event, which go to pg directly:
 * there Prisma's client only added CPU, about 0.1 ms per raw statement and
 * 0.25 ms per interactive transaction on top of the round trip
 * (docs/performance.md). Connections are counted once either way.
 */
export function connectDatabase<Client extends { $disconnect(): Promise<void> }>(
  url: string,
  options: DatabaseOptions,
  createClient: (adapter: PrismaPg) => Client,
): DatabaseConnections<Client> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    ...(options.maxTransactionIdleMs && { idle_in_transaction_session_timeout: options.maxTransactionIdleMs }),
  });
  // A pooled connection that fails while idle is dropped and replaced on the next query; without a
  // listener its error would end the process.
  pool.on('error', () => {});
  const db = createClient(new PrismaPg(pool));
  return {
    db,
    pool,
    close: async () => {
      await db.$disconnect();
      await pool.end();
    },
  };
}

/** The rows of one statement, on the pool or on a connection holding a transaction. */
export async function queryRows<Row extends pg.QueryResultRow>(
  runner: pg.Pool | pg.PoolClient,
  statement: SqlStatement,
): Promise<Row[]> {
  const result = await runner.query<Row>(statement.text, [...statement.values]);
  return result.rows;
}
