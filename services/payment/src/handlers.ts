import { bindService, fields, parseRequest, toMoney } from '@ordermesh/grpc';
import { allowCallers, type ServiceTokenVerifier } from '@ordermesh/identity';
import {
  type Payment as PaymentMessage,
  type PaymentMethod as PaymentMethodMessage,
  PaymentServiceService,
  PaymentStatus,
} from '@ordermesh/proto/payment';
import type { Logger } from '@ordermesh/runtime';
import { z } from 'zod';
import { checkChargeAuthority } from './charge-authority.js';
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
  holderName: fields.text(100),
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

/**
 * Which service may call which method. UserService manages the user's cards
 * and reads payments; only OrderService moves money. The same split as the
 * mesh's AuthorizationPolicy "payment" (mesh/authorization-policies.yaml), so
 * it holds where the mesh is absent too.
 */
export const PAYMENT_CALLERS: Record<keyof typeof PaymentServiceService, readonly string[]> = {
  addPaymentMethod: ['user'],
  listPaymentMethods: ['user'],
  getPayment: ['user'],
  charge: ['order'],
  refund: ['order'],
};

/** gRPC edge of PaymentService: check the calling service, validate, call the domain, shape the answer. */
export function paymentService(payments: Payments, callers: ServiceTokenVerifier, log: Logger) {
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
      async charge(request, context) {
        const { amount, ...rest } = parseRequest(charge, request);
        const command = { ...rest, amountMinor: amount.amountMinor, currency: amount.currency };
        checkChargeAuthority(context.caller, command);
        const payment = await payments.charge(command);
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
    { authorize: allowCallers(callers, PAYMENT_CALLERS) },
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
