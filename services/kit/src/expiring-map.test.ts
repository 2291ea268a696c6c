import { describe, expect, it } from '@jest/globals';
import { ExpiringMap } from './expiring-map.js';

describe('ExpiringMap', () => {
  it('answers a remembered key until it lapses, then forgets it', () => {
    let now = 1_000;
    const tokens = new ExpiringMap<string>(10, () => now);
    tokens.remember('t1', 'alice', 2_000);
    expect(tokens.get('t1')).toBe('alice');
    expect(tokens.get('t2')).toBeUndefined();
    now = 2_000;
    expect(tokens.get('t1')).toBeUndefined();
  });

  it('stays within its capacity, dropping lapsed entries first and then the oldest', () => {
    let now = 0;
    const tokens = new ExpiringMap<number>(2, () => now);
    tokens.remember('short', 1, 10);
    tokens.remember('long', 2, 1_000);
    now = 20;
    tokens.remember('new', 3, 1_000);
    expect([tokens.get('short'), tokens.get('long'), tokens.get('new')]).toEqual([undefined, 2, 3]);
    tokens.remember('newest', 4, 1_000);
    expect([tokens.get('long'), tokens.get('new'), tokens.get('newest')]).toEqual([undefined, 3, 4]);
  });
});
