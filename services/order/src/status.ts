import { PaymentStatus } from '@ordermesh/proto/payment';
import type { OrderStatus } from './generated/prisma/enums.js';

export interface StatusChange {
  status: OrderStatus;
  reason: string;
}

/**
 * What a payment's status means for its order. PROCESSING leaves the order
 * pending: the settlement worker asks again.
 */
export function orderStatusAfterCharge(payment: {
  status: PaymentStatus;
  declineReason: string;
}): StatusChange | undefined {
  switch (payment.status) {
    case PaymentStatus.PAYMENT_STATUS_SUCCEEDED:
      return { status: 'PAID', reason: '' };
    case PaymentStatus.PAYMENT_STATUS_DECLINED:
      return { status: 'PAYMENT_FAILED', reason: payment.declineReason || 'declined' };
    case PaymentStatus.PAYMENT_STATUS_VOIDED:
      return { status: 'CANCELLED', reason: 'cancelled before payment' };
    case PaymentStatus.PAYMENT_STATUS_REFUNDED:
      return { status: 'REFUNDED', reason: 'refunded' };
    default:
      return undefined;
  }
}

/** What a cancellation does to an order, given what PaymentService did with its payment. */
export function orderStatusAfterCancel(paymentStatus: PaymentStatus): StatusChange {
  return paymentStatus === PaymentStatus.PAYMENT_STATUS_REFUNDED
    ? { status: 'REFUNDED', reason: 'cancelled and refunded' }
    : { status: 'CANCELLED', reason: 'cancelled' };
}

/** Orders that CancelOrder must first settle with PaymentService (money may have moved). */
export const CANCEL_NEEDS_PAYMENT: readonly OrderStatus[] = ['PENDING_PAYMENT', 'PAID'];
export const FINAL: readonly OrderStatus[] = ['CANCELLED', 'REFUNDED'];
