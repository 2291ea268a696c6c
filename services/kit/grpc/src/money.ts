import type { Money } from '@ordermesh/proto/common';

/** Money as stored (BIGINT minor units) to Money as sent. Amounts stay below 2^53, which the API enforces. */
export function toMoney(amountMinor: bigint | number, currency: string): Money {
  return { amountMinor: Number(amountMinor), currency };
}
