/**
 * What the hostile-input suites (fuzz.test.ts, cross-user.test.ts) share: the
 * RPC contracts read from the compiled descriptor set, so that a new RPC shows
 * up here without anyone listing it, and one way to put bytes on the wire.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  createFileRegistry,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import type { ServiceName } from '@ordermesh/dev/platform';
import type { RequestBinding } from '@ordermesh/grpc';
import { chargeBinding } from '@ordermesh/proto/charge-binding';
import { ChargeRequest } from '@ordermesh/proto/payment';
import { type CallingService, serviceIdentities } from '@ordermesh/testing';

/** The services of ordermesh and who may call them. */
export const SERVICES: Record<string, { name: ServiceName; internal: boolean }> = {
  'ordermesh.user.v1.UserService': { name: 'user', internal: false },
  'ordermesh.order.v1.OrderService': { name: 'order', internal: true },
  'ordermesh.payment.v1.PaymentService': { name: 'payment', internal: true },
  'ordermesh.notification.v1.NotificationService': { name: 'notification', internal: false },
};

export interface Rpc {
  /** "/ordermesh.order.v1.OrderService/CreateOrder", as on the wire. */
  path: string;
  service: DescService;
  method: DescMethod;
  input: DescMessage;
  target: ServiceName;
  internal: boolean;
}

const registry = createFileRegistry(
  fromBinary(
    FileDescriptorSetSchema,
    readFileSync(createRequire(import.meta.url).resolve('@ordermesh/proto/descriptor-set')),
  ),
);

/**
 * Every RPC of every ordermesh service in the descriptor set that the
 * services themselves load (proto/gen/descriptor-set.binpb). A service in
 * the contracts that SERVICES does not know is an error, not a silent skip.
 */
export function ordermeshRpcs(): Rpc[] {
  const rpcs: Rpc[] = [];
  for (const type of registry) {
    if (type.kind !== 'service' || !type.typeName.startsWith('ordermesh.')) continue;
    const known = SERVICES[type.typeName];
    if (!known) throw new Error(`${type.typeName} is in the contracts but not in tests/security/support SERVICES`);
    for (const method of type.methods) {
      rpcs.push({
        path: `/${type.typeName}/${method.name}`,
        service: type,
        method,
        input: method.input,
        target: known.name,
        internal: known.internal,
      });
    }
  }
  return rpcs.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * Which real caller the suites act as for an internal RPC: OrderService moves
 * money (Charge, Refund), UserService makes every other internal call, as the
 * services' allowlists say.
 */
const CALLER_OF: Record<string, CallingService> = {
  '/ordermesh.payment.v1.PaymentService/Charge': 'order',
  '/ordermesh.payment.v1.PaymentService/Refund': 'order',
};

/**
 * The metadata every call to an internal service (OrderService,
 * PaymentService) carries: the one place where the caller's service identity
 * (services/kit/identity/src/service-tokens.ts) is attached. A Charge carries a token
 * bound to its own order, card and amount, as OrderService signs it; bytes
 * that do not decode as a ChargeRequest get a plain token.
 */
export async function internalMetadata(
  stateDir: string,
  rpc: Pick<Rpc, 'path' | 'target'>,
  body: Uint8Array,
): Promise<Metadata> {
  const identities = identitiesFor(stateDir);
  const caller = CALLER_OF[rpc.path] ?? 'user';
  const callee = rpc.target === 'payment' ? 'payment' : 'order';
  return identities.metadata(caller, callee, rpc.path.endsWith('/Charge') ? bindingOf(body) : undefined);
}

const identityCache = new Map<string, ReturnType<typeof serviceIdentities>>();
function identitiesFor(stateDir: string) {
  let identities = identityCache.get(stateDir);
  if (!identities) {
    identities = serviceIdentities(stateDir);
    identityCache.set(stateDir, identities);
  }
  return identities;
}

/**
 * The fields OrderService would sign for this Charge. Not for large bodies:
 * OrderService signs only values it has validated, and a binding of a
 * megabyte would make a header no HTTP/2 peer takes (the call would be reset
 * before the service saw it).
 */
function bindingOf(body: Uint8Array): RequestBinding | undefined {
  if (body.length > 4096) return undefined;
  try {
    const request = ChargeRequest.decode(body);
    return chargeBinding({
      orderId: request.orderId,
      userId: request.userId,
      paymentMethodId: request.paymentMethodId,
      amountMinor: request.amount?.amountMinor ?? 0,
      currency: request.amount?.currency ?? '',
    });
  } catch {
    return undefined;
  }
}

/** Metadata for a call: internal identity for internal services, a bearer token when given. */
export async function metadataFor(
  stateDir: string,
  rpc: Pick<Rpc, 'path' | 'target' | 'internal'>,
  body: Uint8Array,
  token?: string,
): Promise<Metadata> {
  const metadata = rpc.internal ? await internalMetadata(stateDir, rpc, body) : new Metadata();
  if (token !== undefined) metadata.set('authorization', token === '' ? '' : `Bearer ${token}`);
  return metadata;
}

export interface Outcome {
  code: status;
  details: string;
  response?: Buffer;
}

const clients = new Map<string, Client>();

/** A plain channel to `address`, one per address for the whole run; `closeClients` ends them. */
function clientFor(address: string): Client {
  let client = clients.get(address);
  if (!client) {
    // The client itself sends anything: the server's limits are what is under test.
    client = new Client(address, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
    clients.set(address, client);
  }
  return client;
}

export function closeClients(): void {
  for (const client of clients.values()) client.close();
  clients.clear();
}

/**
 * Sends `bytes` as the request of `path`, exactly as given (the serializer is
 * the identity), and resolves with the status, never rejects: what the
 * server answers is the result under test.
 */
export function sendBytes(
  address: string,
  path: string,
  bytes: Uint8Array,
  metadata: Metadata,
  timeoutMs = 20_000,
): Promise<Outcome> {
  return new Promise((resolve) => {
    clientFor(address).makeUnaryRequest(
      path,
      (body: Uint8Array) => Buffer.from(body),
      (response: Buffer) => response,
      bytes,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (error: ServiceError | null, response?: Buffer) =>
        resolve(
          error
            ? { code: error.code, details: error.details }
            : { code: status.OK, details: '', response: response ?? Buffer.alloc(0) },
        ),
    );
  });
}

/** A generated ts-proto method definition: how to encode its request and decode its answer. */
export interface MethodDefinition<Req, Res> {
  path: string;
  requestSerialize: (value: Req) => Buffer;
  responseDeserialize: (bytes: Buffer) => Res;
}

/**
 * One typed call through the same wire path as the fuzzer: internal services
 * get their identity from `internalMetadata`; `token` is a user's access token.
 */
export async function invoke<Req, Res>(
  stateDir: string,
  address: string,
  rpc: Pick<Rpc, 'path' | 'target' | 'internal'>,
  definition: MethodDefinition<Req, Res>,
  request: Req,
  token?: string,
): Promise<{ code: status; details: string; response?: Res }> {
  const body = definition.requestSerialize(request);
  const outcome = await sendBytes(address, definition.path, body, await metadataFor(stateDir, rpc, body, token));
  return {
    code: outcome.code,
    details: outcome.details,
    response: outcome.response ? definition.responseDeserialize(outcome.response) : undefined,
  };
}

/** Field names, in proto spelling, of a message and the messages inside it, e.g. `lines.sku`. */
export function fieldPaths(message: DescMessage, prefix = '', seen = new Set<string>()): string[] {
  if (seen.has(message.typeName)) return [];
  const inner = new Set(seen).add(message.typeName);
  return message.fields.flatMap((field) => {
    const path = `${prefix}${field.name}`;
    const nested = field.message && field.fieldKind !== 'map' ? fieldPaths(field.message, `${path}.`, inner) : [];
    return [path, ...nested];
  });
}
