import { callUnary, createClient } from '@ordermesh/grpc';
import type { ServiceTokenSigner } from '@ordermesh/identity';
import { chargeBinding } from '@ordermesh/proto/charge-binding';
import { type Payment, PaymentServiceClient } from '@ordermesh/proto/payment';

/** The audience of OrderService's service tokens to PaymentService. */
const PAYMENT_SERVICE = 'payment';

/** What OrderService asks of PaymentService. */
export interface PaymentGateway {
  charge(request: {
    orderId: string;
    userId: string;
    paymentMethodId: string;
    amountMinor: number;
    currency: string;
    within?: Date | number;
  }): Promise<Payment>;
  refund(request: { orderId: string; userId: string; within?: Date | number }): Promise<Payment>;
  close(): void;
}

/**
 * PaymentService over gRPC. The idempotency keys derive from the order id, so
 * the inline charge, the settlement worker's retries and any mesh retry are
 * all the same charge to PaymentService. Every call carries OrderService's
 * service token; a charge's token also vouches for its order, card and amount.
 */
export class GrpcPaymentGateway implements PaymentGateway {
  private readonly client: PaymentServiceClient;

  constructor(
    target: string,
    private readonly timeoutMs: number,
    private readonly identity: ServiceTokenSigner,
  ) {
    this.client = createClient(PaymentServiceClient, target, identity.interceptor(PAYMENT_SERVICE));
  }

  async charge(request: Parameters<PaymentGateway['charge']>[0]): Promise<Payment> {
    const metadata = await this.identity.metadata(PAYMENT_SERVICE, chargeBinding(request));
    const { payment } = await callUnary(
      this.client.charge.bind(this.client),
      {
        idempotencyKey: `charge:${request.orderId}`,
        orderId: request.orderId,
        userId: request.userId,
        paymentMethodId: request.paymentMethodId,
        amount: { amountMinor: request.amountMinor, currency: request.currency },
      },
      { timeoutMs: this.timeoutMs, within: request.within, metadata },
    );
    return expectPayment(payment);
  }

  async refund(request: Parameters<PaymentGateway['refund']>[0]): Promise<Payment> {
    const { payment } = await callUnary(
      this.client.refund.bind(this.client),
      { idempotencyKey: `cancel:${request.orderId}`, orderId: request.orderId, userId: request.userId },
      { timeoutMs: this.timeoutMs, within: request.within },
    );
    return expectPayment(payment);
  }

  close(): void {
    this.client.close();
  }
}

function expectPayment(payment: Payment | undefined): Payment {
  if (!payment) throw new Error('PaymentService answered without a payment');
  return payment;
}
