import { status } from '@grpc/grpc-js';

/**
 * An error meant for the caller: its code becomes the gRPC status and its
 * message is sent as is. Anything else thrown by a handler is answered with a
 * bare INTERNAL so that no stack trace or internal detail leaks.
 */
export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export const invalidArgument = (field: string, problem: string) =>
  new AppError(status.INVALID_ARGUMENT, `${field}: ${problem}`);
export const notFound = (what: string) => new AppError(status.NOT_FOUND, `${what} not found`);
export const alreadyExists = (message: string) => new AppError(status.ALREADY_EXISTS, message);
export const failedPrecondition = (message: string) => new AppError(status.FAILED_PRECONDITION, message);
export const aborted = (message: string) => new AppError(status.ABORTED, message);
export const permissionDenied = (message: string) => new AppError(status.PERMISSION_DENIED, message);
export const unauthenticated = (message = 'missing, invalid or expired access token') =>
  new AppError(status.UNAUTHENTICATED, message);
export const unavailable = (message: string) => new AppError(status.UNAVAILABLE, message);

/** True when a gRPC client error means the callee could not be reached or did not answer in time. */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED;
}

/**
 * True for a database unique-constraint violation, the signal that a
 * concurrent duplicate won: Prisma's P2002 from a model query, PostgreSQL's
 * SQLSTATE 23505 from a statement sent by pg.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'P2002' || code === '23505';
}

/** Prisma's codes for a database that could not be reached, dropped the connection or ran out of connections. */
const TRANSIENT_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2037']);
/** What the pg driver adapter reports for the same, by kind. */
const TRANSIENT_ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
]);
/** SQLSTATEs of a server going away: admin or crash shutdown, not accepting connections, too many connections. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE']);

interface DatabaseErrorShape {
  code?: unknown;
  message?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } };
}

/**
 * True when a data-layer error says the database connection failed, not the
 * query: a terminated backend (57P01), a dropped socket, an exhausted pool.
 * Such a call is answered UNAVAILABLE so that the mesh retries it (every
 * retried method is idempotent) instead of the caller seeing INTERNAL.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const shape = (error ?? {}) as DatabaseErrorShape;
  const code = typeof shape.code === 'string' ? shape.code : '';
  const cause = shape.meta?.driverAdapterError?.cause;
  const causeCode = typeof cause?.code === 'string' ? cause.code : '';
  return (
    TRANSIENT_PRISMA_CODES.has(code) ||
    TRANSIENT_ADAPTER_KINDS.has(String(cause?.kind)) ||
    [code, causeCode].some((sqlstate) => TRANSIENT_SQLSTATES.has(sqlstate) || /^08[0-9A-Z]{3}$/.test(sqlstate)) ||
    TRANSIENT_SOCKET_CODES.has(code) ||
    shape.message === 'Connection terminated unexpectedly'
  );
}
