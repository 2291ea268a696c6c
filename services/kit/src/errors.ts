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
export const unauthenticated = (message = 'missing, invalid or expired access token') =>
  new AppError(status.UNAUTHENTICATED, message);
export const unavailable = (message: string) => new AppError(status.UNAVAILABLE, message);

/** True when a gRPC client error means the callee could not be reached or did not answer in time. */
export function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === status.UNAVAILABLE || code === status.DEADLINE_EXCEEDED;
}

/** True for a database unique-constraint violation (Prisma's P2002), the signal that a concurrent duplicate won. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}
