import { toMoney } from '@ordermesh/grpc';
import { type OutboxRecord, outboxRecord } from '@ordermesh/messaging';
import {
  aborted,
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  isUniqueViolation,
  notFound,
} from '@ordermesh/runtime';
import { cardBrand, isExpired, isLuhnValid } from './card.js';
import type { PaymentProvider } from './provider.js';
import type { ChargedMethod, NewPayment, Payment, PaymentMethod, PaymentStore } from './store.js';

export interface NewCard {
  userId: string;
  idempotencyKey: string;
  cardNumber: string;
  expMonth: number;
  expYear: number;
  holderName: string;
}

export interface ChargeCommand {
  idempotencyKey: string;
  orderId: string;
  userId: string;
  paymentMethodId: string;
  amountMinor: number;
  currency: string;
}

/**
 * A retry gets the first answer; the key reused for another card is the
 * caller's mistake, as for orders and charges. Only what is stored can be
 * compared (the number is not stored): its last four digits, expiry and holder.
 */
function sameCard(method: PaymentMethod, card: NewCard): PaymentMethod {
  const same =
    method.last4 === card.cardNumber.slice(-4) &&
    method.expMonth === card.expMonth &&
    method.expYear === card.expYear &&
    method.holderName === card.holderName;
  if (!same) throw alreadyExists('idempotency_key was already used for a different card');
  return method;
}

/**
 * PaymentService's rules. Every operation is safe to repeat: the database's
 * unique constraints (one method per user and key, one payment per order)
 * decide which of two concurrent duplicates wins, and the loser returns the
 * winner's result.
 */
export class Payments {
  constructor(
    private readonly store: PaymentStore,
    private readonly provider: PaymentProvider,
    private readonly onEventWritten: () => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async addMethod(card: NewCard): Promise<PaymentMethod> {
    const existing = await this.store.findMethodByKey(card.userId, card.idempotencyKey);
    if (existing) return sameCard(existing, card);
    if (!isLuhnValid(card.cardNumber)) throw invalidArgument('card_number', 'is not a valid card number');
    if (isExpired(card.expMonth, card.expYear, this.now())) throw invalidArgument('exp_year', 'the card has expired');
    const providerToken = await this.provider.tokenize(card.cardNumber);
    try {
      return await this.store.insertMethod({
        userId: card.userId,
        idempotencyKey: card.idempotencyKey,
        providerToken,
        brand: cardBrand(card.cardNumber),
        last4: card.cardNumber.slice(-4),
        expMonth: card.expMonth,
        expYear: card.expYear,
        holderName: card.holderName,
      });
    } catch (error) {
      const winner = isUniqueViolation(error) && (await this.store.findMethodByKey(card.userId, card.idempotencyKey));
      if (winner) return sameCard(winner, card);
      throw error;
    }
  }

  listMethods(userId: string): Promise<PaymentMethod[]> {
    return this.store.listMethods(userId);
  }

  async charge(command: ChargeCommand): Promise<Payment> {
    // One round trip for a new charge: the card read and the payment insert together.
    const started = await this.store.startCharge({
      orderId: command.orderId,
      userId: command.userId,
      paymentMethodId: command.paymentMethodId,
      amountMinor: BigInt(command.amountMinor),
      currency: command.currency,
      chargeKey: command.idempotencyKey,
    });
    if (!started) throw notFound('payment method');
    const payment = started.payment ?? (await this.winnerOf(command.orderId));
    if (payment.userId !== command.userId) throw notFound('order');
    if (
      payment.status !== 'VOIDED' &&
      (payment.amountMinor !== BigInt(command.amountMinor) || payment.currency !== command.currency)
    ) {
      throw failedPrecondition('the order already has a payment of another amount');
    }
    // PROCESSING also covers a charge interrupted by a crash: re-driving it with
    // the same provider key cannot take the money twice.
    return payment.status === 'PROCESSING' ? this.completeCharge(payment, started.method) : payment;
  }

  /**
   * Returns the money of an order's payment. An order with no payment yet is
   * voided, so a charge still in a queue or a retry can never take money later.
   */
  async refund(command: { idempotencyKey: string; orderId: string; userId: string }): Promise<Payment> {
    const payment = await this.paymentOfOrder({
      orderId: command.orderId,
      userId: command.userId,
      paymentMethodId: null,
      amountMinor: 0n,
      currency: 'XXX',
      status: 'VOIDED',
      chargeKey: null,
      refundKey: command.idempotencyKey,
    });
    if (payment.userId !== command.userId) throw notFound('payment');
    if (payment.status === 'PROCESSING') throw aborted('the charge of this order is still in progress; retry');
    if (payment.status !== 'SUCCEEDED') return payment;
    // The key must be free before money moves: held by another payment, the
    // final update would fail after the provider had refunded (found by fuzzing).
    const holder = await this.store.findPaymentByRefundKey(command.idempotencyKey);
    if (holder && holder.id !== payment.id) throw alreadyExists('idempotency_key was already used for another order');

    const method = payment.paymentMethodId && (await this.store.findMethod(payment.userId, payment.paymentMethodId));
    if (!method) throw failedPrecondition('the payment method of this payment no longer exists');
    await this.provider.refund({
      token: method.providerToken,
      amountMinor: Number(payment.amountMinor),
      currency: payment.currency,
      idempotencyKey: `refund:${payment.id}`,
    });
    return this.store
      .transition(
        payment.id,
        'SUCCEEDED',
        { status: 'REFUNDED', refundKey: command.idempotencyKey },
        outboxRecord('payment.refunded', this.eventFields(payment)),
      )
      .then(this.notified);
  }

  async get(orderId: string, userId: string): Promise<Payment> {
    const payment = await this.store.findPaymentByOrder(orderId);
    if (!payment || payment.userId !== userId) throw notFound('payment');
    return payment;
  }

  /**
   * The order's payment: the existing one, or `initial` inserted now. Of two
   * concurrent inserts for one order the database lets one win; the other
   * reads the winner.
   */
  private async paymentOfOrder(initial: NewPayment): Promise<Payment> {
    // Insert first: a new order (the common case) costs one statement, a repeat one more.
    try {
      return await this.store.insertPayment(initial);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return this.winnerOf(initial.orderId);
    }
  }

  /** The payment whose insert beat ours, found by its order. */
  private async winnerOf(orderId: string): Promise<Payment> {
    const winner = await this.store.findPaymentByOrder(orderId);
    // No payment for this order, so the unique key that clashed is the idempotency key.
    if (!winner) throw alreadyExists('idempotency_key was already used for another order');
    return winner;
  }

  private async completeCharge(payment: Payment, method: ChargedMethod): Promise<Payment> {
    const result = await this.provider.charge({
      token: method.providerToken,
      amountMinor: Number(payment.amountMinor),
      currency: payment.currency,
      idempotencyKey: `charge:${payment.id}`,
    });
    let event: OutboxRecord;
    let change: { status: 'SUCCEEDED' | 'DECLINED'; declineReason?: string };
    if (result.outcome === 'succeeded') {
      change = { status: 'SUCCEEDED' };
      event = outboxRecord('payment.succeeded', this.eventFields(payment));
    } else {
      change = { status: 'DECLINED', declineReason: result.reason };
      event = outboxRecord('payment.failed', { ...this.eventFields(payment), reason: result.reason });
    }
    return this.store.transition(payment.id, 'PROCESSING', change, event).then(this.notified);
  }

  private eventFields(payment: Payment) {
    return {
      paymentId: payment.id,
      orderId: payment.orderId,
      userId: payment.userId,
      amount: toMoney(payment.amountMinor, payment.currency),
      occurredAt: this.now(),
    };
  }

  private readonly notified = (payment: Payment) => {
    this.onEventWritten();
    return payment;
  };
}
