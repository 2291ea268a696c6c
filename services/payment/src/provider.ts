import { randomBytes } from 'node:crypto';
import { sleep } from '@ordermesh/runtime';

export type ChargeOutcome = { outcome: 'succeeded' } | { outcome: 'declined'; reason: string };

/**
 * The payment provider seen by PaymentService. A real one (a card processor)
 * takes an idempotency key on each money movement, as this interface does, so
 * that re-driving an interrupted charge never takes money twice.
 */
export interface PaymentProvider {
  /** Exchanges a card number for a token; the number is never stored. */
  tokenize(cardNumber: string): Promise<string>;
  charge(request: {
    token: string;
    amountMinor: number;
    currency: string;
    idempotencyKey: string;
  }): Promise<ChargeOutcome>;
  refund(request: { token: string; amountMinor: number; currency: string; idempotencyKey: string }): Promise<void>;
}

export interface SimulatedProviderSettings {
  /** Added to every provider call, to feel like a network hop. */
  latencyMs: number;
  /** Card numbers whose charges are always declined. */
  declinedCards: ReadonlySet<string>;
  /** Charges above this many minor units are declined for insufficient funds. */
  limitMinor: number;
}

const DECLINE_MARK = 'decline_';

/**
 * An offline stand-in for a card processor with deterministic rules, so that
 * everything runs without network access: the outcome is carried by the
 * token (as processors' test tokens do), which makes re-driven calls give the
 * same answer.
 */
export class SimulatedProvider implements PaymentProvider {
  constructor(private readonly settings: SimulatedProviderSettings) {}

  async tokenize(cardNumber: string): Promise<string> {
    await sleep(this.settings.latencyMs);
    const mark = this.settings.declinedCards.has(cardNumber) ? DECLINE_MARK : '';
    return `sim_tok_${mark}${randomBytes(12).toString('hex')}`;
  }

  async charge(request: { token: string; amountMinor: number }): Promise<ChargeOutcome> {
    await sleep(this.settings.latencyMs);
    if (request.token.startsWith(`sim_tok_${DECLINE_MARK}`)) return { outcome: 'declined', reason: 'card_declined' };
    if (request.amountMinor > this.settings.limitMinor) return { outcome: 'declined', reason: 'insufficient_funds' };
    return { outcome: 'succeeded' };
  }

  async refund(): Promise<void> {
    await sleep(this.settings.latencyMs);
  }
}
