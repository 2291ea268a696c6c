import { bindService, fields, type Logger, parseRequest, toMoney } from '@ordermesh/kit';
import {
  type Payment as PaymentMessage,
  type PaymentMethod as PaymentMethodMessage,
  PaymentServiceService,
  PaymentStatus,
} from '@ordermesh/proto/payment';
import { z } from 'zod';
import type { Payments } from './payments.js';
import type { Payment, PaymentMethod } from './store.js';

const userId = z.object({ userId: fields.id });
const orderOfUser = z.object({ orderId: fields.id, userId: fields.id });

const addPaymentMethod = z.object({
  idempotencyKey: fields.idempotencyKey,
  userId: fields.id,
  cardNumber: z.string().regex(/^\d{12,19}$/, 'must be 12 to 19 digits'),
  expMonth: z.number().int().min(1, 'must be 1 to 12').max(12, 'must be 1 to 12'),
  expYear: z.number().int().min(2000, 'must be a four-digit year').max(2100, 'must be a four-digit year'),
  holderName: z.string().trim().min(1, 'is required').max(100, 'must be at most 100 characters'),
});

const charge = z.object({
  idempotencyKey: fields.idempotencyKey,
  orderId: fields.id,
  userId: fields.id,
  paymentMethodId: fields.id,
  amount: z.object(
    {
      amountMinor: z.number().int().min(1, 'must be positive').max(Number.MAX_SAFE_INTEGER, 'is too large'),
      currency: fields.currency,
    },
    { error: 'is required' },
  ),
});

const refund = z.object({ idempotencyKey: fields.idempotencyKey, orderId: fields.id, userId: fields.id });

/** gRPC edge of PaymentService: validate, call the domain, shape the answer. */
export function paymentService(payments: Payments, log: Logger) {
  return bindService(
    PaymentServiceService,
    {
      async addPaymentMethod(request) {
        const card = parseRequest(addPaymentMethod, request);
        return { paymentMethod: toPaymentMethodMessage(await payments.addMethod(card)) };
      },
      async listPaymentMethods(request) {
        const { userId: owner } = parseRequest(userId, request);
        return { paymentMethods: (await payments.listMethods(owner)).map(toPaymentMethodMessage) };
      },
      async charge(request) {
        const { amount, ...rest } = parseRequest(charge, request);
        const payment = await payments.charge({ ...rest, amountMinor: amount.amountMinor, currency: amount.currency });
        return { payment: toPaymentMessage(payment) };
      },
      async refund(request) {
        return { payment: toPaymentMessage(await payments.refund(parseRequest(refund, request))) };
      },
      async getPayment(request) {
        const { orderId, userId: owner } = parseRequest(orderOfUser, request);
        return { payment: toPaymentMessage(await payments.get(orderId, owner)) };
      },
    },
    log,
  );
}

export function toPaymentMethodMessage(method: PaymentMethod): PaymentMethodMessage {
  return {
    id: method.id,
    userId: method.userId,
    brand: method.brand,
    last4: method.last4,
    expMonth: method.expMonth,
    expYear: method.expYear,
    holderName: method.holderName,
    createdAt: method.createdAt,
  };
}

const statusOf: Record<Payment['status'], PaymentStatus> = {
  PROCESSING: PaymentStatus.PAYMENT_STATUS_PROCESSING,
  SUCCEEDED: PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
  DECLINED: PaymentStatus.PAYMENT_STATUS_DECLINED,
  REFUNDED: PaymentStatus.PAYMENT_STATUS_REFUNDED,
  VOIDED: PaymentStatus.PAYMENT_STATUS_VOIDED,
};

export function toPaymentMessage(payment: Payment): PaymentMessage {
  return {
    id: payment.id,
    orderId: payment.orderId,
    userId: payment.userId,
    paymentMethodId: payment.paymentMethodId ?? '',
    amount: toMoney(payment.amountMinor, payment.currency),
    status: statusOf[payment.status],
    declineReason: payment.declineReason,
    createdAt: payment.createdAt,
    updatedAt: payment.updatedAt,
  };
}
