import { describe, expect, it } from '@jest/globals';
import { decodeEvent, eventCatalogue, isRoutingKey, outboxRecord } from './events.js';

const orderId = '0b6f3d4e-8a1c-4f2b-9d3e-5a6b7c8d9e0f';
const userId = '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const paymentId = 'c0ffee00-0000-4000-8000-000000000003';
const occurredAt = new Date('2030-01-02T03:04:05.678Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('outboxRecord and decodeEvent', () => {
  it('round-trips a payment event through its protobuf bytes', () => {
    const payload = {
      paymentId,
      orderId,
      userId,
      amount: { amountMinor: 9_007_199_254_740_991, currency: 'EUR' },
      reason: 'card_declined',
      occurredAt,
    };
    const record = outboxRecord('payment.failed', payload);
    expect(record).toMatchObject({
      routingKey: 'payment.failed',
      messageType: 'ordermesh.events.v1.PaymentFailed',
      headers: {},
    });
    expect(record.eventId).toMatch(UUID);
    expect(record.payload).toBeInstanceOf(Uint8Array);
    expect(decodeEvent('payment.failed', record.payload)).toEqual(payload);
  });

  it('round-trips every event of the catalogue and names its protobuf type', () => {
    const common = { orderId, userId, occurredAt };
    const samples = {
      'user.registered': { userId, email: 'ada@example.test', displayName: 'Ada', occurredAt },
      'order.placed': { ...common, total: { amountMinor: 2599, currency: 'USD' }, itemCount: 3 },
      'order.cancelled': { ...common, refunded: true },
      'payment.succeeded': { ...common, paymentId, amount: { amountMinor: 1, currency: 'JPY' } },
      'payment.failed': { ...common, paymentId, amount: { amountMinor: 2, currency: 'EUR' }, reason: 'x' },
      'payment.refunded': { ...common, paymentId, amount: { amountMinor: 3, currency: 'GBP' } },
    } as const;
    for (const key of Object.keys(eventCatalogue) as (keyof typeof samples)[]) {
      const record = outboxRecord(key, samples[key]);
      expect(record.messageType).toBe(eventCatalogue[key].type);
      expect(record.messageType.split('.').at(-1)?.toLowerCase()).toBe(key.replace('.', ''));
      expect(decodeEvent(key, record.payload)).toEqual(samples[key]);
    }
  });

  it('gives every record its own event id', () => {
    const payload = { orderId, userId, refunded: false, occurredAt };
    const ids = new Set(Array.from({ length: 50 }, () => outboxRecord('order.cancelled', payload).eventId));
    expect(ids.size).toBe(50);
  });

  it('throws for bytes that are not a message of that kind', () => {
    expect(() => decodeEvent('order.placed', Buffer.from('not protobuf at all'))).toThrow();
  });
});

describe('isRoutingKey', () => {
  it.each(Object.keys(eventCatalogue))('knows %s', (key) => {
    expect(isRoutingKey(key)).toBe(true);
  });

  it.each(['order.shipped', 'order', 'ORDER.PLACED', '', 'toString', '__proto__', 'hasOwnProperty'])(
    'does not know %j',
    (key) => {
      expect(isRoutingKey(key)).toBe(false);
    },
  );
});
