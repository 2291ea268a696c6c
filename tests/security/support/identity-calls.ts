import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { SERVICE_TOKEN_METADATA } from '@ordermesh/identity';
import { OrderServiceClient, OrderServiceService } from '@ordermesh/proto/order';
import { PaymentServiceClient, PaymentServiceService } from '@ordermesh/proto/payment';
import type { CallingService, serviceIdentities } from '@ordermesh/testing';
import { es256 } from './identity-forgery.ts';

/** The internal services and their generated definitions: every method of each is probed. */
export const INTERNAL_SERVICES = {
  order: { definition: OrderServiceService, Client: OrderServiceClient },
  payment: { definition: PaymentServiceService, Client: PaymentServiceClient },
} as const;
export type InternalService = keyof typeof INTERNAL_SERVICES;

type RawUnary = (
  request: object,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (error: ServiceError | null, response: unknown) => void,
) => unknown;

/**
 * Calls `method` (a generated definition key, e.g. `charge`) of an internal
 * service with the given metadata and an empty request (all fields default,
 * as decoded from no bytes).
 */
export function callRaw(
  service: InternalService,
  client: object,
  method: string,
  metadata: Metadata,
): Promise<unknown> {
  const fn = (client as Record<string, RawUnary>)[method];
  const spec = (INTERNAL_SERVICES[service].definition as Record<string, { requestDeserialize(bytes: Buffer): object }>)[
    method
  ];
  if (typeof fn !== 'function' || !spec) throw new Error(`${service} has no method ${method}`);
  const request = spec.requestDeserialize(Buffer.alloc(0));
  return new Promise((resolve, reject) =>
    fn.call(client, request, metadata, { deadline: new Date(Date.now() + 15_000) }, (error, response) =>
      error ? reject(error) : resolve(response),
    ),
  );
}

export function internalClients(addresses: Record<InternalService, string>) {
  return {
    order: new OrderServiceClient(addresses.order, credentials.createInsecure()),
    payment: new PaymentServiceClient(addresses.payment, credentials.createInsecure()),
  };
}

const withServiceToken = (token: string) => {
  const metadata = new Metadata();
  metadata.set(SERVICE_TOKEN_METADATA, token);
  return metadata;
};

/**
 * Service tokens that must not get anyone in: each is one fault away from a
 * real token of `caller` for `callee` (the real caller keys come from the
 * platform's state directory).
 */
export function forgedServiceTokens(
  identities: ReturnType<typeof serviceIdentities>,
  caller: CallingService,
  callee: InternalService,
  endUserAccessToken: string,
): Record<string, Metadata> {
  const now = Math.floor(Date.now() / 1000);
  const realKey: KeyObject = createPrivateKey(readFileSync(identities.keys[caller].privateKeyFile, 'utf8'));
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const header = { alg: 'ES256', typ: 'ordermesh-service+jwt' };
  const claims = { iss: caller, sub: caller, aud: callee, iat: now, exp: now + 60 };
  const otherCallee = callee === 'order' ? 'payment' : 'order';
  const endUser = new Metadata();
  endUser.set('authorization', `Bearer ${endUserAccessToken}`);
  return {
    'no identity at all': new Metadata(),
    'an end user access token as authorization': endUser,
    'an end user access token as the service token': withServiceToken(endUserAccessToken),
    [`a stranger's key claiming to be ${caller}`]: withServiceToken(es256(header, claims, stranger)),
    [`${caller}'s key, expired`]: withServiceToken(
      es256(header, { ...claims, iat: now - 600, exp: now - 540 }, realKey),
    ),
    [`${caller}'s key, made for ${otherCallee}`]: withServiceToken(
      es256(header, { ...claims, aud: otherCallee }, realKey),
    ),
    [`${caller}'s key, valid for a day`]: withServiceToken(
      es256(header, { ...claims, iat: now - 3600, exp: now + 86_400 }, realKey),
    ),
    'alg none': withServiceToken(
      `${Buffer.from(JSON.stringify({ alg: 'none', typ: header.typ })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`,
    ),
    garbage: withServiceToken('not.a.token'),
  };
}
