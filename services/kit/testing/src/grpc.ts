import { Metadata, type ServiceError, type status } from '@grpc/grpc-js';
import { AppError } from '@ordermesh/runtime';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type Method<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline?: Date },
  callback: Callback<Res>,
) => unknown;

/**
 * One unary call as a public client makes it, with a 15 s deadline unless
 * `deadline` is false (some clients set none) or a number of milliseconds; `token` goes in the
 * authorization metadata, added to `metadata` (e.g. a service token from
 * service-identity.ts, for calling OrderService or PaymentService directly).
 */
export function call<Req, Res>(
  method: Method<Req, Res>,
  request: Req,
  token?: string,
  { deadline = true, metadata: base }: { deadline?: boolean | number; metadata?: Metadata } = {},
): Promise<Res> {
  const metadata = base?.clone() ?? new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  const timeoutMs = deadline === true ? 15_000 : deadline;
  const options = timeoutMs === false ? {} : { deadline: new Date(Date.now() + timeoutMs) };
  return new Promise((resolve, reject) =>
    method(request, metadata, options, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

/** The error a call failed with, or a test failure when it succeeded. */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('the call succeeded, but it was expected to fail');
}

/** The status and message of the kit's AppError a promise was refused with; any other error is rethrown. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: status; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('the promise was fulfilled, but it was expected to be refused');
}
