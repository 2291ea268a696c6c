import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/prisma/client.js';

export type Database = InstanceType<typeof PrismaClient>;

/** Prisma for the model queries, and the same connections for the delivery path's plain SQL. */
export interface DatabaseConnections {
  db: Database;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * One pool shared by Prisma (through its pg adapter) and the statements that
 * run for every event, which go to pg directly: there Prisma's client only
 * added CPU (about 0.1 ms per raw statement and 0.25 ms per interactive
 * transaction, measured in docs/performance.md). A transaction left waiting
 * longer than `maxTransactionIdleMs` is ended by the server, so a stuck
 * delivery cannot hold its row lock and connection for good.
 */
export function connectDatabase(url: string, poolSize = 10, maxTransactionIdleMs = 60_000): DatabaseConnections {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    idle_in_transaction_session_timeout: maxTransactionIdleMs,
  });
  // A pooled connection that fails while idle is dropped and replaced on the next query; without a
  // listener its error would end the process.
  pool.on('error', () => {});
  const db = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    db,
    pool,
    close: async () => {
      await db.$disconnect();
      await pool.end();
    },
  };
}
