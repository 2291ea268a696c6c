import { createHash } from 'node:crypto';
import { invalidArgument } from '@ordermesh/runtime';

export interface Line {
  sku: string;
  quantity: number;
}

export interface CatalogueProduct {
  sku: string;
  name: string;
  priceMinor: bigint;
  currency: string;
  active: boolean;
}

export interface PricedItem {
  sku: string;
  name: string;
  quantity: number;
  unitPriceMinor: bigint;
}

export interface PricedOrder {
  items: PricedItem[];
  currency: string;
  totalMinor: bigint;
}

/** Prices order lines from the catalogue. Repeated SKUs are merged; one order has one currency. */
export function priceOrder(lines: readonly Line[], catalogue: ReadonlyMap<string, CatalogueProduct>): PricedOrder {
  const quantities = new Map<string, number>();
  lines.forEach((line, index) => {
    const product = catalogue.get(line.sku);
    if (!product?.active)
      throw invalidArgument(`lines[${index}].sku`, `no product with SKU ${JSON.stringify(line.sku)}`);
    quantities.set(line.sku, (quantities.get(line.sku) ?? 0) + line.quantity);
  });
  const items: PricedItem[] = [];
  let currency = '';
  let totalMinor = 0n;
  for (const [sku, quantity] of quantities) {
    const product = catalogue.get(sku) as CatalogueProduct;
    if (quantity > 100) throw invalidArgument('lines', `at most 100 of SKU ${sku} per order`);
    if (currency && product.currency !== currency)
      throw invalidArgument('lines', 'all products must share one currency');
    currency = product.currency;
    items.push({ sku, name: product.name, quantity, unitPriceMinor: product.priceMinor });
    totalMinor += product.priceMinor * BigInt(quantity);
  }
  return { items, currency, totalMinor };
}

/** A fingerprint of what was asked, so an idempotency key reused for a different order is caught. */
export function requestHash(lines: readonly Line[], paymentMethodId: string): string {
  // Quantities per SKU, so the same order with its lines reordered or split differently hashes alike.
  const quantities = new Map<string, number>();
  for (const line of lines) quantities.set(line.sku, (quantities.get(line.sku) ?? 0) + line.quantity);
  const canonical = [...quantities].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([canonical, paymentMethodId]))
    .digest('hex');
}
