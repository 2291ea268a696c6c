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
import { AppError, isUnreachable } from '@ordermesh/runtime';
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
 * grpc-js's answers for a call it failed before sending anything: no
 * connection to pick (a load balancer in transient failure) or no address to
 * try. Only these prove that the callee never saw the request.
 */
const NEVER_SENT = [/^(\w+: )?No connection established/, /^Name resolution failed/];

function neverSent(error: Partial<ServiceError>): boolean {
  return error.code === status.UNAVAILABLE && NEVER_SENT.some((pattern) => pattern.test(error.details ?? ''));
}

export interface DownstreamCall {
  /** What the caller is told is unavailable, e.g. 'orders'. */
  subject: string;
  /**
   * For a call that changes something: what may have happened when the callee
   * got the request but did not answer, e.g. 'the order may have been placed'.
   * Absent for reads, where a failed call changed nothing whatever happened.
   */
  mayHave?: string;
  /** The deadline of the call being served: when it has passed, the caller hears DEADLINE_EXCEEDED. */
  within?: Date | number;
}

/**
 * Turns a downstream failure into what our caller should see: its own status
 * for the caller-facing ones; for a callee that could not be reached or did not
 * answer in time, UNAVAILABLE that promises "nothing was changed" only when
 * that is proven (a read, or a request never sent), and otherwise an answer
 * that says the outcome is unknown and how to learn it, so that nobody retries
 * with a new idempotency key and pays twice; anything else unchanged (so it
 * becomes a bare INTERNAL).
 */
export function translateDownstreamError(error: unknown, call: DownstreamCall, now = Date.now()): Error {
  const serviceError = error as Partial<ServiceError>;
  if (isUnreachable(error)) {
    if (!call.mayHave || neverSent(serviceError)) {
      return new AppError(
        status.UNAVAILABLE,
        `${call.subject} are unavailable right now; nothing was changed, please try again in a moment`,
      );
    }
    const learn = `${call.mayHave}: retry with the same idempotency_key to learn the outcome`;
    const deadline = call.within instanceof Date ? call.within.getTime() : call.within;
    if (serviceError.code === status.DEADLINE_EXCEEDED && deadline !== undefined && now >= deadline) {
      return new AppError(status.DEADLINE_EXCEEDED, `the deadline ran out before ${call.subject} answered; ${learn}`);
    }
    return new AppError(status.UNAVAILABLE, `${call.subject} did not answer; ${learn}`);
  }
  if (typeof serviceError.code === 'number' && PASSED_ON.has(serviceError.code)) {
    return new AppError(serviceError.code, serviceError.details ?? 'request failed');
  }
  return error instanceof Error ? error : new Error(String(error));
}
