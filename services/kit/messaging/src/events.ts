import { randomUUID } from 'node:crypto';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import type { MessageFns } from '@ordermesh/proto/events';
import {
  OrderCancelled,
  OrderPlaced,
  PaymentFailed,
  PaymentRefunded,
  PaymentSucceeded,
  UserRegistered,
} from '@ordermesh/proto/events';

/** Every event of the platform: routing key -> protobuf message. Producers and consumers read this one list. */
export const eventCatalogue = {
  'user.registered': { type: 'ordermesh.events.v1.UserRegistered', message: UserRegistered },
  'order.placed': { type: 'ordermesh.events.v1.OrderPlaced', message: OrderPlaced },
  'order.cancelled': { type: 'ordermesh.events.v1.OrderCancelled', message: OrderCancelled },
  'payment.succeeded': { type: 'ordermesh.events.v1.PaymentSucceeded', message: PaymentSucceeded },
  'payment.failed': { type: 'ordermesh.events.v1.PaymentFailed', message: PaymentFailed },
  'payment.refunded': { type: 'ordermesh.events.v1.PaymentRefunded', message: PaymentRefunded },
} as const;

export type RoutingKey = keyof typeof eventCatalogue;
export type EventPayload<K extends RoutingKey> =
  (typeof eventCatalogue)[K]['message'] extends MessageFns<infer T> ? T : never;

/** A row for a service's outbox_events table: written in the same transaction as the change it reports. */
export interface OutboxRecord {
  eventId: string;
  routingKey: string;
  messageType: string;
  payload: Uint8Array<ArrayBuffer>;
  headers: Record<string, string>;
}

const tracer = trace.getTracer('@ordermesh/messaging');

/**
 * Builds the outbox row of an event. Its headers carry the W3C trace context
 * (traceparent, tracestate, baggage) of a messaging "create" span made here,
 * inside the request that caused the event, so the relay can publish it, much
 * later and from another loop, as part of the same trace.
 */
export function outboxRecord<K extends RoutingKey>(routingKey: K, payload: EventPayload<K>): OutboxRecord {
  const spec = eventCatalogue[routingKey];
  const bytes = (spec.message as MessageFns<EventPayload<K>>).encode(payload).finish();
  const eventId = randomUUID();
  return {
    eventId,
    routingKey,
    messageType: spec.type,
    payload: new Uint8Array(bytes),
    headers: traceHeaders(eventId, routingKey),
  };
}

function traceHeaders(eventId: string, routingKey: string): Record<string, string> {
  const span = tracer.startSpan(`create ${routingKey}`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'rabbitmq',
      'messaging.operation.type': 'create',
      'messaging.operation.name': 'create',
      'messaging.message.id': eventId,
      'messaging.rabbitmq.destination.routing_key': routingKey,
    },
  });
  const headers: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), headers);
  span.end();
  return headers;
}

export function isRoutingKey(key: string): key is RoutingKey {
  return Object.hasOwn(eventCatalogue, key);
}

/** Decodes an event body; throws when the bytes are not a valid message of that kind. */
export function decodeEvent<K extends RoutingKey>(routingKey: K, body: Uint8Array): EventPayload<K> {
  return (eventCatalogue[routingKey].message as MessageFns<EventPayload<K>>).decode(body);
}
