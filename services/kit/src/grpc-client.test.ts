import { describe, expect, it } from '@jest/globals';
import { deadlineWithin } from './grpc-client.js';

const now = 1_800_000_000_000;

describe('deadlineWithin', () => {
  it('is the timeout from now when the call being served has no deadline (grpc-js says Infinity)', () => {
    expect(deadlineWithin(500, Number.POSITIVE_INFINITY, now).getTime()).toBe(now + 500);
    expect(deadlineWithin(500, undefined, now).getTime()).toBe(now + 500);
  });

  it('never outlives the deadline of the call being served', () => {
    expect(deadlineWithin(500, new Date(now + 200), now).getTime()).toBe(now + 200);
    expect(deadlineWithin(500, now + 100, now).getTime()).toBe(now + 100);
  });

  it('keeps its own timeout when the parent allows longer', () => {
    expect(deadlineWithin(500, new Date(now + 10_000), now).getTime()).toBe(now + 500);
  });
});
