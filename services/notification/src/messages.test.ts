import { describe, expect, it } from '@jest/globals';
import type { NotifiableEvent } from './incoming-events.js';
import { composeMessage, formatMoney } from './messages.js';

const orderId = '0b6f3d4e-8a1c-4f2b-9d3e-5a6b7c8d9e0f';
const userId = '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const eventId = 'c0ffee00-0000-4000-8000-000000000001';
const ada = { displayName: 'Ada' };

describe('formatMoney', () => {
  it.each([
    [1250, 'EUR', '€12.50'],
    [123456789, 'USD', '$1,234,567.89'],
    [1200, 'JPY', '¥1,200'],
    // Intl puts a no-break space after a currency code.
    [1234, 'BHD', 'BHD\u00a01.234'],
    [5, 'USD', '$0.05'],
    [0, 'CHF', 'CHF\u00a00.00'],
  ])('shows %i minor units of %s as %s', (amountMinor, currency, shown) => {
    expect(formatMoney({ amountMinor, currency })).toBe(shown);
  });

  it('keeps every cent of amounts too large for floating-point division', () => {
    expect(formatMoney({ amountMinor: 9_007_199_254_740_991, currency: 'USD' })).toBe('$90,071,992,547,409.91');
  });
});

describe('composeMessage', () => {
  it('welcomes a new user by name and names the account email', () => {
    const event: NotifiableEvent = {
      eventId,
      kind: 'user.registered',
      payload: { userId, email: 'ada@example.com', displayName: 'Ada', occurredAt: undefined },
    };
    const message = composeMessage(event, ada);
    expect(message.subject).toBe('Welcome to ordermesh');
    expect(message.text).toMatch(/^Hi Ada,\n\n/);
    expect(message.text).toContain('ada@example.com');
  });

  it('greets a user without a display name generically', () => {
    const event: NotifiableEvent = {
      eventId,
      kind: 'order.cancelled',
      payload: { orderId, userId, refunded: false, occurredAt: undefined },
    };
    expect(composeMessage(event, { displayName: '  ' }).text).toMatch(/^Hi there,\n\n/);
  });

  it('confirms a placed order with its id, item count and total', () => {
    const event: NotifiableEvent = {
      eventId,
      kind: 'order.placed',
      payload: { orderId, userId, itemCount: 3, total: { amountMinor: 4999, currency: 'EUR' }, occurredAt: undefined },
    };
    const message = composeMessage(event, ada);
    expect(message.subject).toBe(`Order ${orderId} received`);
    expect(message.text).toContain(`order ${orderId}: 3 items for €49.99.`);
  });

  it('says "1 item", not "1 items"', () => {
    const event: NotifiableEvent = {
      eventId,
      kind: 'order.placed',
      payload: { orderId, userId, itemCount: 1, total: { amountMinor: 100, currency: 'USD' }, occurredAt: undefined },
    };
    expect(composeMessage(event, ada).text).toContain('1 item for $1.00.');
  });

  it.each([
    [true, 'on its way back to you'],
    [false, 'You have not been charged'],
  ])('tells whether a cancelled order was refunded (refunded=%s)', (refunded, wording) => {
    const event: NotifiableEvent = {
      eventId,
      kind: 'order.cancelled',
      payload: { orderId, userId, refunded, occurredAt: undefined },
    };
    const message = composeMessage(event, ada);
    expect(message.subject).toBe(`Order ${orderId} cancelled`);
    expect(message.text).toContain(wording);
  });

  const amount = { amountMinor: 1999, currency: 'GBP' };
  const payment = { paymentId: eventId, orderId, userId, amount, occurredAt: undefined };

  it('confirms a payment with its amount and order', () => {
    const message = composeMessage({ eventId, kind: 'payment.succeeded', payload: payment }, ada);
    expect(message.subject).toBe(`Payment received for order ${orderId}`);
    expect(message.text).toContain(`payment of £19.99 for order ${orderId}.`);
  });

  it.each([
    ['card_declined', 'did not go through: the card was declined.'],
    ['insufficient_funds', 'did not go through: there were not enough funds.'],
    ['processor_unavailable', 'did not go through: processor_unavailable.'],
    ['', 'did not go through.'],
  ])('explains a failed payment with reason "%s"', (reason, wording) => {
    const message = composeMessage({ eventId, kind: 'payment.failed', payload: { ...payment, reason } }, ada);
    expect(message.subject).toBe(`Payment failed for order ${orderId}`);
    expect(message.text).toContain(`Your payment of £19.99 for order ${orderId} ${wording}`);
  });

  it('confirms a refund with its amount and order', () => {
    const message = composeMessage({ eventId, kind: 'payment.refunded', payload: payment }, ada);
    expect(message.subject).toBe(`Refund for order ${orderId}`);
    expect(message.text).toContain(`We have refunded £19.99 for order ${orderId}.`);
  });
});
