import { describe, expect, it } from '@jest/globals';
import { type Order, OrderStatus } from '@ordermesh/proto/order';
import { placeOrderMessage } from './order-messages.js';

const order = (status: OrderStatus, statusReason = ''): Order => ({
  id: '0b6f3d4e-8a1c-4f2b-9d3e-5a6b7c8d9e0f',
  userId: '6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
  items: [],
  total: { amountMinor: 100, currency: 'EUR' },
  status,
  paymentMethodId: '2f1c0d1e-0000-4000-8000-000000000001',
  statusReason,
  createdAt: new Date(0),
  updatedAt: new Date(0),
});

describe('placeOrderMessage', () => {
  it.each([
    [OrderStatus.ORDER_STATUS_PAID, 'Order placed and paid. Thank you!'],
    [
      OrderStatus.ORDER_STATUS_PENDING_PAYMENT,
      'Order received, payment pending: we will charge your card shortly and let you know.',
    ],
    [OrderStatus.ORDER_STATUS_CANCELLED, 'This order has been cancelled.'],
    [OrderStatus.ORDER_STATUS_REFUNDED, 'This order has been cancelled.'],
    [OrderStatus.ORDER_STATUS_UNSPECIFIED, 'Order received.'],
    [OrderStatus.UNRECOGNIZED, 'Order received.'],
  ])('for status %i says %j', (status, message) => {
    expect(placeOrderMessage(order(status))).toBe(message);
  });

  it('names the reason of a failed payment', () => {
    expect(placeOrderMessage(order(OrderStatus.ORDER_STATUS_PAYMENT_FAILED, 'insufficient_funds'))).toBe(
      'Order received, but the payment did not go through (insufficient_funds). Please use another payment method.',
    );
  });

  it('falls back to "declined" when a failed payment has no reason', () => {
    expect(placeOrderMessage(order(OrderStatus.ORDER_STATUS_PAYMENT_FAILED))).toContain('(declined)');
  });
});
