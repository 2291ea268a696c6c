/**
 * The fields of a PaymentService Charge that OrderService signs into its
 * service token and PaymentService compares with the request: the order,
 * whose card and how much. A token for one charge therefore cannot be
 * replayed to take another amount, from another card or for another order.
 * Part of the Charge contract, so both ends take it from here; keys are the
 * proto field names, which the error for a mismatch names.
 */
export function chargeBinding(charge: {
  orderId: string;
  userId: string;
  paymentMethodId: string;
  amountMinor: number;
  currency: string;
}): Record<string, string | number> {
  return {
    order_id: charge.orderId,
    user_id: charge.userId,
    payment_method_id: charge.paymentMethodId,
    amount_minor: charge.amountMinor,
    currency: charge.currency,
  };
}
