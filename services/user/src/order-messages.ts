import { type Order, OrderStatus } from '@ordermesh/proto/order';

/** The sentence PlaceOrder shows the person who ordered, for each outcome. */
export function placeOrderMessage(order: Order): string {
  switch (order.status) {
    case OrderStatus.ORDER_STATUS_PAID:
      return 'Order placed and paid. Thank you!';
    case OrderStatus.ORDER_STATUS_PENDING_PAYMENT:
      return 'Order received, payment pending: we will charge your card shortly and let you know.';
    case OrderStatus.ORDER_STATUS_PAYMENT_FAILED:
      return `Order received, but the payment did not go through (${order.statusReason || 'declined'}). Please use another payment method.`;
    case OrderStatus.ORDER_STATUS_CANCELLED:
    case OrderStatus.ORDER_STATUS_REFUNDED:
      return 'This order has been cancelled.';
    default:
      return 'Order received.';
  }
}
