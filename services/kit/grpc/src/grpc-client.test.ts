import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import type { AppError } from '@ordermesh/runtime';
import { deadlineWithin, translateDownstreamError } from './grpc-client.js';

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

describe('translateDownstreamError', () => {
  const placeOrder = { subject: 'orders', mayHave: 'the order may have been placed' };
  const listOrders = { subject: 'orders' };
  const refused = { code: status.UNAVAILABLE, details: 'No connection established. Last error: connect ECONNREFUSED' };
  const timedOut = { code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 0.098s' };
  const dropped = { code: status.UNAVAILABLE, details: 'Connection dropped' };
  const answer = (error: unknown, call: Parameters<typeof translateDownstreamError>[1]) => {
    const translated = translateDownstreamError(error, call, now);
    return { code: (translated as AppError).code, message: translated.message };
  };

  it('promises that nothing was changed when the request was never sent', () => {
    const roundRobin = { code: status.UNAVAILABLE, details: 'round_robin: No connection established. Last error: x' };
    expect(answer(roundRobin, placeOrder).message).toMatch(/nothing was changed/);
    expect(answer(refused, placeOrder)).toEqual({
      code: status.UNAVAILABLE,
      message: 'orders are unavailable right now; nothing was changed, please try again in a moment',
    });
  });

  it('promises that nothing was changed for a read, whatever happened to it', () => {
    for (const error of [timedOut, dropped]) {
      expect(answer(error, { ...listOrders, within: now }).message).toMatch(/nothing was changed/);
    }
  });

  it("answers DEADLINE_EXCEEDED, with no promise, when a change timed out with the caller's deadline", () => {
    expect(answer(timedOut, { ...placeOrder, within: new Date(now - 1) })).toEqual({
      code: status.DEADLINE_EXCEEDED,
      message:
        'the deadline ran out before orders answered; the order may have been placed: retry with the same idempotency_key to learn the outcome',
    });
  });

  it('answers UNAVAILABLE, with no promise, when a change may have reached the callee and the caller can still wait', () => {
    for (const [error, within] of [
      [timedOut, now + 5_000],
      [timedOut, undefined],
      [dropped, now - 1],
    ] as const) {
      const translated = answer(error, { ...placeOrder, within });
      expect(translated.code).toBe(status.UNAVAILABLE);
      expect(translated.message).not.toMatch(/nothing was changed/);
      expect(translated.message).toMatch(/may have been placed: retry with the same idempotency_key/);
    }
  });

  it("passes on the callee's caller-facing statuses and leaves the rest to become INTERNAL", () => {
    expect(answer({ code: status.NOT_FOUND, details: 'order not found' }, listOrders)).toEqual({
      code: status.NOT_FOUND,
      message: 'order not found',
    });
    const internal = new Error('boom');
    expect(translateDownstreamError(internal, listOrders)).toBe(internal);
  });
});
