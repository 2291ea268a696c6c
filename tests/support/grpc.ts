import { Metadata, type ServiceError } from '@grpc/grpc-js';

type Callback<Res> = (error: ServiceError | null, response: Res) => void;
type Method<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: Callback<Res>,
) => unknown;

/** One unary call with a 15 s deadline, as a public client makes it; `token` goes in the authorization metadata. */
export function call<Req, Res>(method: Method<Req, Res>, request: Req, token?: string): Promise<Res> {
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve, reject) =>
    method(request, metadata, { deadline: new Date(Date.now() + 15_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
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
