import { describe, expect, it } from '@jest/globals';
import { cardBrand, isExpired, isLuhnValid } from './card.js';

describe('isLuhnValid', () => {
  it.each([
    '4242424242424242',
    '4000000000000002',
    '5555555555554444',
    '378282246310005',
    '6011111111111117',
    '79927398713',
  ])('accepts %s', (digits) => {
    expect(isLuhnValid(digits)).toBe(true);
  });

  it.each([
    ['one digit changed', '4242424242424241'],
    ['two adjacent digits swapped', '4242424242424224'],
    ['the classic example off by one', '79927398710'],
    ['an empty string', ''],
    ['non-digits', '4242-4242-4242-4242'],
  ])('rejects %s', (_why, digits) => {
    expect(isLuhnValid(digits)).toBe(false);
  });

  it('doubles every second digit from the right, not from the left', () => {
    // 18 is valid (1*2 + 8 = 10); read from the left it would be 1 + 16-9 = 8.
    expect(isLuhnValid('18')).toBe(true);
    expect(isLuhnValid('81')).toBe(false);
  });
});

describe('cardBrand', () => {
  it.each([
    ['4242424242424242', 'visa'],
    ['5105105105105100', 'mastercard'],
    ['5555555555554444', 'mastercard'],
    ['2221000000000009', 'mastercard'],
    ['2720999999999996', 'mastercard'],
    ['2721000000000000', 'unknown'],
    ['5600000000000000', 'unknown'],
    ['378282246310005', 'amex'],
    ['341111111111111', 'amex'],
    ['351111111111111', 'unknown'],
    ['6011111111111117', 'discover'],
    ['6500000000000002', 'discover'],
    ['6012000000000000', 'unknown'],
    ['9999999999999995', 'unknown'],
  ])('%s is %s', (digits, brand) => {
    expect(cardBrand(digits)).toBe(brand);
  });
});

describe('isExpired', () => {
  it('keeps a card valid through the last moment of its expiry month (UTC)', () => {
    expect(isExpired(3, 2030, new Date('2030-03-01T00:00:00.000Z'))).toBe(false);
    expect(isExpired(3, 2030, new Date('2030-03-31T23:59:59.999Z'))).toBe(false);
  });

  it('expires the card at the first moment of the next month', () => {
    expect(isExpired(3, 2030, new Date('2030-04-01T00:00:00.000Z'))).toBe(true);
  });

  it('handles the year boundary: 12/2030 is valid on 31 December and expired on 1 January', () => {
    expect(isExpired(12, 2030, new Date('2030-12-31T23:59:59.999Z'))).toBe(false);
    expect(isExpired(12, 2030, new Date('2031-01-01T00:00:00.000Z'))).toBe(true);
  });

  it('uses UTC, not the local time zone', () => {
    // 23:30 on 31 March in New York is already 1 April in UTC.
    expect(isExpired(3, 2030, new Date('2030-03-31T23:30:00-04:00'))).toBe(true);
  });

  it('treats later months and later years as valid, earlier ones as expired', () => {
    const now = new Date('2030-06-15T12:00:00.000Z');
    expect(isExpired(7, 2030, now)).toBe(false);
    expect(isExpired(1, 2031, now)).toBe(false);
    expect(isExpired(5, 2030, now)).toBe(true);
    expect(isExpired(12, 2029, now)).toBe(true);
  });
});
