import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { type CatalogueProduct, priceOrder, requestHash } from './pricing.js';

const product = (sku: string, priceMinor: bigint, currency = 'EUR', active = true): CatalogueProduct => ({
  sku,
  name: `name of ${sku}`,
  priceMinor,
  currency,
  active,
});

const catalogue = new Map(
  [
    product('MUG', 1250n),
    product('TEE', 2400n),
    product('OLD', 100n, 'EUR', false),
    product('USD-CAP', 999n, 'USD'),
    // Larger than 2^53: a float total would lose the last digits.
    product('YACHT', 9_007_199_254_740_993n),
  ].map((p) => [p.sku, p]),
);

const invalid = (message: string) => expect.objectContaining({ code: status.INVALID_ARGUMENT, message });

describe('priceOrder', () => {
  it('prices lines from the catalogue and totals them', () => {
    expect(
      priceOrder(
        [
          { sku: 'MUG', quantity: 2 },
          { sku: 'TEE', quantity: 1 },
        ],
        catalogue,
      ),
    ).toEqual({
      currency: 'EUR',
      totalMinor: 4900n,
      items: [
        { sku: 'MUG', name: 'name of MUG', quantity: 2, unitPriceMinor: 1250n },
        { sku: 'TEE', name: 'name of TEE', quantity: 1, unitPriceMinor: 2400n },
      ],
    });
  });

  it('merges repeated SKUs into one item, in order of first appearance', () => {
    const priced = priceOrder(
      [
        { sku: 'TEE', quantity: 1 },
        { sku: 'MUG', quantity: 3 },
        { sku: 'TEE', quantity: 4 },
      ],
      catalogue,
    );
    expect(priced.items.map((item) => [item.sku, item.quantity])).toEqual([
      ['TEE', 5],
      ['MUG', 3],
    ]);
    expect(priced.totalMinor).toBe(5n * 2400n + 3n * 1250n);
  });

  it('keeps the total exact beyond 2^53', () => {
    const priced = priceOrder(
      [
        { sku: 'YACHT', quantity: 3 },
        { sku: 'MUG', quantity: 1 },
      ],
      catalogue,
    );
    expect(priced.totalMinor).toBe(27_021_597_764_222_979n + 1250n);
    expect(priced.totalMinor.toString()).toBe('27021597764224229');
  });

  it('rejects an unknown SKU naming the line', () => {
    expect(() =>
      priceOrder(
        [
          { sku: 'MUG', quantity: 1 },
          { sku: 'NOPE', quantity: 1 },
        ],
        catalogue,
      ),
    ).toThrow(invalid('lines[1].sku: no product with SKU "NOPE"'));
  });

  it('rejects an inactive SKU like an unknown one', () => {
    expect(() => priceOrder([{ sku: 'OLD', quantity: 1 }], catalogue)).toThrow(
      invalid('lines[0].sku: no product with SKU "OLD"'),
    );
  });

  it('rejects products of different currencies, naming lines', () => {
    expect(() =>
      priceOrder(
        [
          { sku: 'MUG', quantity: 1 },
          { sku: 'USD-CAP', quantity: 1 },
        ],
        catalogue,
      ),
    ).toThrow(invalid('lines: all products must share one currency'));
  });

  it('rejects more than 100 of one SKU across merged lines, but allows exactly 100', () => {
    expect(() =>
      priceOrder(
        [
          { sku: 'MUG', quantity: 60 },
          { sku: 'MUG', quantity: 41 },
        ],
        catalogue,
      ),
    ).toThrow(invalid('lines: at most 100 of SKU MUG per order'));
    expect(
      priceOrder(
        [
          { sku: 'MUG', quantity: 60 },
          { sku: 'MUG', quantity: 40 },
        ],
        catalogue,
      ).totalMinor,
    ).toBe(125_000n);
  });
});

describe('requestHash', () => {
  const method = '2f1c0d1e-0000-4000-8000-000000000001';
  const lines = [
    { sku: 'MUG', quantity: 2 },
    { sku: 'TEE', quantity: 1 },
    { sku: 'CAP', quantity: 5 },
  ];

  it('is a sha256 hex digest', () => {
    expect(requestHash(lines, method)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on the order of the lines', () => {
    const reversed = [...lines].reverse();
    expect(requestHash(reversed, method)).toBe(requestHash(lines, method));
    expect(requestHash([lines[1], lines[2], lines[0]] as typeof lines, method)).toBe(requestHash(lines, method));
  });

  it('changes with a quantity, a SKU or the payment method', () => {
    const base = requestHash(lines, method);
    expect(requestHash([{ sku: 'MUG', quantity: 3 }, ...lines.slice(1)], method)).not.toBe(base);
    expect(requestHash([{ sku: 'BOWL', quantity: 2 }, ...lines.slice(1)], method)).not.toBe(base);
    expect(requestHash(lines, '2f1c0d1e-0000-4000-8000-000000000002')).not.toBe(base);
    expect(requestHash(lines.slice(1), method)).not.toBe(base);
  });

  it('does not let SKU and quantity run into each other', () => {
    expect(requestHash([{ sku: 'A1', quantity: 1 }], method)).not.toBe(
      requestHash([{ sku: 'A', quantity: 11 }], method),
    );
  });

  it('does not change its input', () => {
    const copy = structuredClone(lines);
    requestHash(lines, method);
    expect(lines).toEqual(copy);
  });
});
