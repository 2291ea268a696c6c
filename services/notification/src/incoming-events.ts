import { fields } from '@ordermesh/grpc';
import {
  type ConsumedEvent,
  decodeEvent,
  type EventPayload,
  PoisonMessageError,
  type RoutingKey,
} from '@ordermesh/messaging';
import { z } from 'zod';

/** The events NotificationService tells users about: its queue is bound to exactly these routing keys. */
export const NOTIFIED_EVENTS = [
  'user.registered',
  'order.placed',
  'order.cancelled',
  'payment.succeeded',
  'payment.failed',
  'payment.refunded',
] as const satisfies readonly RoutingKey[];

export type NotifiedKind = (typeof NOTIFIED_EVENTS)[number];

/** A decoded, checked event: `kind` tells the type of `payload`. */
export type NotifiableEvent = {
  [Kind in NotifiedKind]: { eventId: string; kind: Kind; payload: EventPayload<Kind> };
}[NotifiedKind];

const money = z.object(
  { amountMinor: z.number().int().min(0, 'must not be negative'), currency: fields.currency },
  { error: 'is required' },
);
const aboutOrder = z.object({ userId: fields.id, orderId: fields.id });
const aboutPayment = aboutOrder.extend({ amount: money });

/**
 * What the messages rely on. Protobuf decodes missing fields as defaults, so a
 * body that decodes can still be unusable; no retry would fix that either.
 */
const requirements: Record<NotifiedKind, z.ZodType> = {
  // UserService validated the address; a stricter check here could only lose users it accepted.
  'user.registered': z.object({ userId: fields.id, email: z.string().min(1, 'is required') }),
  'order.placed': aboutOrder.extend({ total: money }),
  'order.cancelled': aboutOrder,
  'payment.succeeded': aboutPayment,
  'payment.failed': aboutPayment,
  'payment.refunded': aboutPayment,
};

const isNotified = (routingKey: string): routingKey is NotifiedKind =>
  (NOTIFIED_EVENTS as readonly string[]).includes(routingKey);

/** Turns a consumed message into a NotifiableEvent, or throws PoisonMessageError so that it is dead-lettered at once. */
export function readEvent(message: ConsumedEvent): NotifiableEvent {
  const { eventId, routingKey, body } = message;
  if (!isNotified(routingKey)) throw new PoisonMessageError(`no notification for routing key "${routingKey}"`);
  // The event id keys the notification log (a UUID column).
  if (!fields.id.safeParse(eventId).success) throw new PoisonMessageError(`event id "${eventId}" is not a UUID`);
  let payload: EventPayload<NotifiedKind>;
  try {
    payload = decodeEvent(routingKey, body);
  } catch (error) {
    throw new PoisonMessageError(`body does not decode as ${routingKey}: ${(error as Error).message}`);
  }
  const check = requirements[routingKey].safeParse(payload);
  if (!check.success) {
    const issue = check.error.issues[0];
    throw new PoisonMessageError(`${routingKey} event is unusable: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  // decodeEvent(routingKey, ...) returned the payload type of this very routing key.
  return { eventId, kind: routingKey, payload } as NotifiableEvent;
}
