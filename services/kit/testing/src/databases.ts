import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, type ServiceName } from '@ordermesh/dev/platform';
import pg from 'pg';

const run = promisify(execFile);

const ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** Drops the databases if they exist, so a suite starts from migrations on an empty database. */
export async function dropDatabases(names: readonly string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    for (const name of names) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Runs one query against a database and returns its rows: for checking invariants from the outside. */
export async function query<Row extends Record<string, unknown>>(url: string, sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A new database with a service's migrations applied the way production
 * applies them (prisma migrate deploy through tools/prisma); `drop` removes it.
 */
export async function createMigratedDatabase(
  service: ServiceName,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `ordermesh_${service}_it_${randomBytes(4).toString('hex')}`;
  const url = `postgresql://postgres@127.0.0.1:5432/${name}`;
  await run(process.execPath, [join(ROOT, 'tools/prisma/prisma.mjs'), service, 'migrate', 'deploy'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: url },
  });
  return { url, drop: () => dropDatabases([name]) };
}
