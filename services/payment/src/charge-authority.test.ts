import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { chargeBinding } from '@ordermesh/proto/charge-binding';
import { AppError } from '@ordermesh/runtime';
import { checkChargeAuthority } from './charge-authority.js';
import type { ChargeCommand } from './payments.js';

const command: ChargeCommand = {
  idempotencyKey: 'charge:o-1',
  orderId: 'o-1',
  userId: 'u-1',
  paymentMethodId: 'pm-1',
  amountMinor: 2950,
  currency: 'EUR',
};
const fromOrderService = (binding = chargeBinding(command)) => ({ name: 'order', binding });

function refusal(check: () => void): { code: status; message: string } {
  try {
    check();
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('the charge was allowed, but it was expected to be refused');
}

describe('checkChargeAuthority', () => {
  it('allows the charge OrderService signed, field for field', () => {
    expect(() => checkChargeAuthority(fromOrderService(), command)).not.toThrow();
    // The idempotency key is not part of what is signed: a retry with the same key is the same charge.
    expect(() => checkChargeAuthority(fromOrderService(), { ...command, idempotencyKey: 'other' })).not.toThrow();
  });

  it.each([
    ['amount_minor', { amountMinor: 1 }],
    ['currency', { currency: 'USD' }],
    ['order_id', { orderId: 'o-2' }],
    ['user_id', { userId: 'u-2' }],
    ['payment_method_id', { paymentMethodId: 'pm-2' }],
  ] as const)('refuses a charge whose %s differs from the signed one', (field, change) => {
    expect(refusal(() => checkChargeAuthority(fromOrderService(), { ...command, ...change }))).toEqual({
      code: status.PERMISSION_DENIED,
      message: `${field}: does not match the order the charge was authorised for`,
    });
  });

  it('refuses a token bound to fewer fields than a charge has', () => {
    const { currency: _left, ...partial } = chargeBinding(command);
    expect(refusal(() => checkChargeAuthority(fromOrderService(partial), command)).message).toBe(
      'currency: does not match the order the charge was authorised for',
    );
  });

  it('refuses a caller whose token is not bound to a charge at all', () => {
    for (const caller of [{ name: 'order' }, undefined]) {
      expect(refusal(() => checkChargeAuthority(caller, command))).toEqual({
        code: status.PERMISSION_DENIED,
        message: 'a charge needs a service token bound to its order, card and amount; this one is not',
      });
    }
  });
});
