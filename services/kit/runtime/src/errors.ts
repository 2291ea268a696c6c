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
 * True for a database unique-constraint violation (SQLSTATE 23505), the
 * signal that a concurrent duplicate won.
 */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/** SQLSTATEs of a server going away: admin or crash shutdown, not accepting connections, too many connections. */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const TRANSIENT_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE']);
/** pg's errors without a code: a dropped connection, no free connection in time, no new one in time. */
const TRANSIENT_MESSAGES = new Set([
  'Connection terminated unexpectedly',
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
]);

/**
 * True when an error from pg says the database connection failed, not the
 * query: a terminated backend (57P01), a connection exception (class 08), a
 * dropped socket, no connection within the pool's wait. Such a call is answered UNAVAILABLE so that the mesh
 * retries it (every retried method is idempotent) instead of the caller
 * seeing INTERNAL. The services send every statement through pg (kit
 * storage), so pg's error shapes are the only ones to recognize.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const transientCode =
    typeof code === 'string' &&
    (TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || TRANSIENT_SOCKET_CODES.has(code));
  return transientCode || (typeof message === 'string' && TRANSIENT_MESSAGES.has(message));
}
