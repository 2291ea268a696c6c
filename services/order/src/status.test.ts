import { describe, expect, it } from '@jest/globals';
import { PaymentStatus } from '@ordermesh/proto/payment';
import { CANCEL_NEEDS_PAYMENT, FINAL, orderStatusAfterCancel, orderStatusAfterCharge } from './status.js';

describe('orderStatusAfterCharge', () => {
  it.each([
    [PaymentStatus.PAYMENT_STATUS_SUCCEEDED, '', { status: 'PAID', reason: '' }],
    [
      PaymentStatus.PAYMENT_STATUS_DECLINED,
      'insufficient_funds',
      { status: 'PAYMENT_FAILED', reason: 'insufficient_funds' },
    ],
    [PaymentStatus.PAYMENT_STATUS_DECLINED, '', { status: 'PAYMENT_FAILED', reason: 'declined' }],
    [PaymentStatus.PAYMENT_STATUS_VOIDED, '', { status: 'CANCELLED', reason: 'cancelled before payment' }],
    [PaymentStatus.PAYMENT_STATUS_REFUNDED, '', { status: 'REFUNDED', reason: 'refunded' }],
  ])('maps payment status %i (decline reason %j) to %j', (status, declineReason, expected) => {
    expect(orderStatusAfterCharge({ status, declineReason })).toEqual(expected);
  });

  it.each([
    PaymentStatus.PAYMENT_STATUS_PROCESSING,
    PaymentStatus.PAYMENT_STATUS_UNSPECIFIED,
    PaymentStatus.UNRECOGNIZED,
  ])('leaves the order pending for payment status %i', (status) => {
    expect(orderStatusAfterCharge({ status, declineReason: 'ignored' })).toBeUndefined();
  });
});

describe('orderStatusAfterCancel', () => {
  it('is REFUNDED when the payment was refunded', () => {
    expect(orderStatusAfterCancel(PaymentStatus.PAYMENT_STATUS_REFUNDED)).toEqual({
      status: 'REFUNDED',
      reason: 'cancelled and refunded',
    });
  });

  it.each([
    PaymentStatus.PAYMENT_STATUS_VOIDED,
    PaymentStatus.PAYMENT_STATUS_DECLINED,
    PaymentStatus.PAYMENT_STATUS_UNSPECIFIED,
  ])('is CANCELLED for payment status %i', (status) => {
    expect(orderStatusAfterCancel(status)).toEqual({ status: 'CANCELLED', reason: 'cancelled' });
  });
});

describe('status sets', () => {
  it('asks PaymentService before cancelling pending and paid orders only', () => {
    expect([...CANCEL_NEEDS_PAYMENT].sort()).toEqual(['PAID', 'PENDING_PAYMENT']);
  });

  it('treats cancelled and refunded orders as final, and nothing that may still move money', () => {
    expect([...FINAL].sort()).toEqual(['CANCELLED', 'REFUNDED']);
    expect(FINAL.some((status) => CANCEL_NEEDS_PAYMENT.includes(status))).toBe(false);
  });
});
