import { connectDatabase, type DatabaseOptions } from '@ordermesh/storage';
import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';

/** What a test needs of a service's generated Prisma client. */
interface PrismaLike {
  $connect(): Promise<void>;
  $disconnect(): Promise<void>;
}

export interface DatabaseUnderTest<Client> {
  /** The pool the code under test gets, as a service's start makes it. */
  pool: pg.Pool;
  /**
   * The schema's model API, for arranging rows and checking them: a path to the
   * database independent of the services' own SQL.
   */
  db: Client;
  close(): Promise<void>;
}

/** Connects the code's pool and a Prisma client of the service's schema (loaded now, not in the first test). */
export async function connectDatabaseUnderTest<Client extends PrismaLike>(
  PrismaClient: new (options: { adapter: PrismaPg }) => Client,
  url: string,
  options: DatabaseOptions = {},
): Promise<DatabaseUnderTest<Client>> {
  const pool = connectDatabase(url, options);
  const db = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
  await db.$connect();
  return {
    pool,
    db,
    close: async () => {
      await db.$disconnect();
      await pool.end();
    },
  };
}
