import { serviceMeter } from '@ordermesh/runtime';
import type { PaymentStore } from './store.js';

const outcomes = serviceMeter('@ordermesh/payment').createCounter('ordermesh.payment.outcomes', {
  description: 'Payments reaching a final state: succeeded, declined, refunded, voided',
  unit: '{payment}',
});

/**
 * The store, counting each payment a transition leaves in its target state.
 * Counted at the store because every outcome goes through transition(),
 * whichever RPC or retry caused it. Two callers racing for the same
 * transition may both count it: rare, and it only ever over-counts by one.
 */
export function countingOutcomes(store: PaymentStore): PaymentStore {
  const transition = store.transition.bind(store);
  // The original store stays the prototype, so every other method is its own.
  return Object.assign(Object.create(store) as PaymentStore, {
    async transition(...args: Parameters<PaymentStore['transition']>) {
      const [, , change] = args;
      const payment = await transition(...args);
      if (payment.status === change.status) {
        outcomes.add(1, { 'ordermesh.payment.status': change.status.toLowerCase() });
      }
      return payment;
    },
  });
}
