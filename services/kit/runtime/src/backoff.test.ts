import { describe, expect, it } from '@jest/globals';
import { backoffDelay, sleep } from './backoff.js';

const fixed = (value: number) => () => value;

describe('backoffDelay', () => {
  it('is base * 2^attempt at the top of the jitter range', () => {
    expect(backoffDelay(0, 250, 10_000, fixed(1))).toBe(250);
    expect(backoffDelay(1, 250, 10_000, fixed(1))).toBe(500);
    expect(backoffDelay(3, 250, 10_000, fixed(1))).toBe(2_000);
  });

  it('never exceeds the maximum', () => {
    expect(backoffDelay(6, 250, 10_000, fixed(1))).toBe(10_000);
    expect(backoffDelay(50, 250, 10_000, fixed(1))).toBe(10_000);
    expect(backoffDelay(1_000_000, 250, 10_000, fixed(0.999999))).toBeLessThanOrEqual(10_000);
  });

  it('applies full jitter: the random fraction of the ceiling, rounded', () => {
    expect(backoffDelay(2, 250, 10_000, fixed(0))).toBe(0);
    expect(backoffDelay(2, 250, 10_000, fixed(0.5))).toBe(500);
    expect(backoffDelay(2, 250, 10_000, fixed(0.3333))).toBe(333);
    expect(backoffDelay(20, 250, 10_000, fixed(0.25))).toBe(2_500);
  });

  it('stays finite for huge attempt numbers', () => {
    const delay = backoffDelay(Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER, fixed(1));
    expect(Number.isFinite(delay)).toBe(true);
    expect(delay).toBe(2 ** 30);
  });

  it('stays within [0, ceiling] for real random numbers', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const delay = backoffDelay(attempt, 100, 3_000);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(3_000, 100 * 2 ** attempt));
    }
  });
});

describe('sleep', () => {
  it('waits about the given time', async () => {
    const started = Date.now();
    await sleep(60);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('returns early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await sleep(5_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('returns at once for an already aborted signal', async () => {
    const started = Date.now();
    await sleep(5_000, AbortSignal.abort());
    expect(Date.now() - started).toBeLessThan(100);
  });
});
