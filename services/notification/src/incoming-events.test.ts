import { describe, expect, it } from '@jest/globals';
import { type ConsumedEvent, outboxRecord, PoisonMessageError } from '@ordermesh/messaging';
import { readEvent } from './incoming-events.js';

const eventId = 'c0ffee00-0000-4000-8000-000000000002';
const userId = '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const orderId = '0b6f3d4e-8a1c-4f2b-9d3e-5a6b7c8d9e0f';

const consumed = (routingKey: string, body: Uint8Array, id = eventId): ConsumedEvent => ({
  eventId: id,
  routingKey,
  body: Buffer.from(body),
  attempt: 1,
  headers: {},
});

const orderPlaced = outboxRecord('order.placed', {
  orderId,
  userId,
  itemCount: 2,
  total: { amountMinor: 500, currency: 'EUR' },
  occurredAt: new Date(),
});

describe('readEvent', () => {
  it('decodes a known event', () => {
    const event = readEvent(consumed('order.placed', orderPlaced.payload));
    expect(event).toMatchObject({ eventId, kind: 'order.placed', payload: { orderId, userId, itemCount: 2 } });
  });

  it.each([
    ['an unknown routing key', consumed('order.shipped', orderPlaced.payload), 'no notification for routing key'],
    ['an event id that is not a UUID', consumed('order.placed', orderPlaced.payload, 'evt-1'), 'is not a UUID'],
    [
      'a body that is not protobuf',
      consumed('order.placed', Buffer.from('not protobuf')),
      'does not decode as order.placed',
    ],
    [
      'an event without the fields its message needs',
      consumed(
        'order.placed',
        outboxRecord('order.placed', { orderId, userId, itemCount: 1, total: undefined, occurredAt: undefined })
          .payload,
      ),
      'total: is required',
    ],
    [
      'a registration without an email address',
      consumed(
        'user.registered',
        outboxRecord('user.registered', { userId, email: '', displayName: 'x', occurredAt: undefined }).payload,
      ),
      'email',
    ],
  ])('rejects %s as poison', (_case, message, reason) => {
    expect(() => readEvent(message)).toThrow(PoisonMessageError);
    expect(() => readEvent(message)).toThrow(reason);
  });
});
