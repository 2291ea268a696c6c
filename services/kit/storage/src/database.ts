import { createHash } from 'node:crypto';
import pg from 'pg';
import sql, { empty, join, raw, type Sql } from 'sql-template-tag';

/**
 * Hand-written SQL is composed with this tag: values become `$n` parameters,
 * never text, and fragments (another `sql`, `join`, `raw`, `empty`) nest.
 * Every statement goes to the service's pg pool through `queryRows`
 * (README, "Data access").
 */
export { empty, join, raw, type Sql, sql };

/** A statement with `$n` placeholders and their values, as the `sql` tag builds it. */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

export interface DatabaseOptions {
  /** Connections in the pool. */
  max?: number;
  /** How long a statement waits for a free connection (or a new one to open) before it fails; see below. */
  connectionWaitMs?: number;
  /** The server ends a transaction left idle this long, so a stuck caller cannot hold its locks for good. */
  maxTransactionIdleMs?: number;
}

/**
 * A bound on piling up, not a latency budget: past the per-try timeouts of the payment, order and
 * notification routes (1 to 3 s, mesh/), so it fails only calls whose callers gave up already;
 * within UserService's (9 s), so its callers are answered before the mesh gives up on them.
 */
export const DEFAULT_CONNECTION_WAIT_MS = 5_000;

/**
 * A service's database: one pg pool, which every statement uses (through
 * `queryRows` or `inTransaction`). Prisma owns the schema, the migrations and
 * the row types, but no query: its client cost 81 MiB of memory and three
 * times the time per query of pg here (README, "Data access").
 */
export function connectDatabase(url: string, options: DatabaseOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    // pg's default is to wait for ever: with the database stalled, calls would pile up long after their
    // callers gave up. The failure is transient (isTransientDatabaseError), so the call is answered
    // UNAVAILABLE and the mesh may retry it on another replica.
    connectionTimeoutMillis: options.connectionWaitMs ?? DEFAULT_CONNECTION_WAIT_MS,
    ...(options.maxTransactionIdleMs && { idle_in_transaction_session_timeout: options.maxTransactionIdleMs }),
  });
  // A pooled connection that fails while idle is dropped and replaced on the next query; without a
  // listener its error would end the process.
  pool.on('error', () => {});
  return pool;
}

/**
 * The rows of one statement, on the pool or on a connection holding a transaction.
 * Sent as a named prepared statement: each connection parses and plans a text
 * once and then only binds values, which took 0.4 to 1.8 ms of PostgreSQL's
 * CPU off every order (docs/performance-history.md).
 */
export async function queryRows<Row extends pg.QueryResultRow>(
  runner: pg.Pool | pg.PoolClient,
  statement: SqlStatement,
): Promise<Row[]> {
  const result = await runner.query<Row>({
    name: statementName(statement.text),
    text: statement.text,
    values: [...statement.values],
  });
  return result.rows;
}

/** The one row a statement must return, such as an INSERT ... RETURNING; none is an error naming the statement. */
export async function queryOneRow<Row extends pg.QueryResultRow>(
  runner: pg.Pool | pg.PoolClient,
  statement: SqlStatement,
): Promise<Row> {
  const [row] = await queryRows<Row>(runner, statement);
  if (!row) throw new Error(`no row from: ${statement.text.trim().replace(/\s+/g, ' ').slice(0, 80)}`);
  return row;
}

/** Statement texts seen so far → their names; the hot paths use a handful of fixed texts. */
const statementNames = new Map<string, string>();
const MAX_REMEMBERED_NAMES = 1_000;

/**
 * A name that only this text can have (pg insists that one name stays one
 * text on a connection), derived from the text so every pool connection and
 * every replica agrees on it.
 */
export function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `om_${createHash('sha256').update(text).digest('base64url').slice(0, 32)}`;
    if (statementNames.size >= MAX_REMEMBERED_NAMES) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/**
 * Runs `work` in one transaction on one pooled connection: committed when it
 * resolves, rolled back when it throws (and the error rethrown). A connection
 * that cannot even roll back is not given back to the pool.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (connection: pg.PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const connection = await pool.connect();
  let broken: Error | undefined;
  try {
    await connection.query(begin);
    const result = await work(connection);
    await connection.query('COMMIT');
    return result;
  } catch (error) {
    await connection.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    connection.release(broken);
  }
}
