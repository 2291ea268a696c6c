import {
  type CallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientOptions,
  type ClientUnaryCall,
  credentials,
  type Interceptor,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { AppError, isUnreachable } from './errors.js';
import { registerXdsFor } from './xds.js';

export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Client channel settings shared by every service-to-service client. */
export const clientOptions: ChannelOptions = {
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 1024 * 1024,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.service_config_disable_resolution': 1, // no retryPolicy from DNS TXT on top of the mesh (docs/mesh.md)
};

/**
 * Creates a generated ts-proto client. Plain text on purpose: in the mesh the
 * sidecar (or proxyless xDS) adds mutual TLS, and retries, per-try timeouts
 * and outlier detection come from the mesh too, never from here.
 */
export function createClient<Client>(
  Constructor: new (address: string, creds: ChannelCredentials, options?: Partial<ClientOptions>) => Client,
  target: string,
  /** e.g. ServiceTokenSigner.interceptor: adds this service's identity to every call. */
  interceptor?: Interceptor,
): Client {
  registerXdsFor(target); // proxyless mode: xds:///name targets need the xDS resolver
  const options = interceptor ? { ...clientOptions, interceptors: [interceptor] } : clientOptions;
  return new Constructor(target, credentials.createInsecure(), options);
}

/**
 * `timeoutMs` from now, or the parent's deadline if that is sooner. grpc-js
 * reports "no deadline" as Infinity, which must not become new Date(Infinity)
 * (an invalid date, which grpc-js treats as already past).
 */
export function deadlineWithin(timeoutMs: number, within?: Date | number, now = Date.now()): Date {
  const parent = within instanceof Date ? within.getTime() : (within ?? Number.POSITIVE_INFINITY);
  return new Date(Math.min(now + timeoutMs, parent));
}

/**
 * Makes one unary call with a deadline: `timeoutMs` from now, but never later
 * than the deadline of the call being served (`within`), so a caller that has
 * given up does not leave work running downstream.
 */
export function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { timeoutMs: number; within?: Date | number; metadata?: Metadata },
): Promise<Res> {
  const deadline = deadlineWithin(options.timeoutMs, options.within);
  return new Promise((resolve, reject) => {
    method(request, options.metadata ?? new Metadata(), { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** Statuses of a downstream service that mean the same to our caller, passed on with their message. */
const PASSED_ON = new Set<status>([
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.ABORTED,
  status.PERMISSION_DENIED,
  status.RESOURCE_EXHAUSTED,
]);

/**
 * Turns a downstream failure into what our caller should see: its own status
 * for the caller-facing ones, UNAVAILABLE with `unreachableMessage` when the
 * service could not be reached in time, and anything else unchanged (so it
 * becomes a bare INTERNAL).
 */
export function translateDownstreamError(error: unknown, unreachableMessage: string): Error {
  const serviceError = error as Partial<ServiceError>;
  if (isUnreachable(error)) return new AppError(status.UNAVAILABLE, unreachableMessage);
  if (typeof serviceError.code === 'number' && PASSED_ON.has(serviceError.code)) {
    return new AppError(serviceError.code, serviceError.details ?? 'request failed');
  }
  return error instanceof Error ? error : new Error(String(error));
}
