import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { fields } from './fields.js';
import { parseRequest } from './validation.js';

const schema = z.object({
  idempotencyKey: fields.idempotencyKey,
  paymentMethodId: fields.id,
  lines: z.array(z.object({ quantity: z.number().max(100, 'must be at most 100') })),
});

const valid = {
  idempotencyKey: 'key-1',
  paymentMethodId: '2f1c0d1e-0000-4000-8000-000000000001',
  lines: [{ quantity: 1 }],
};

describe('parseRequest', () => {
  it('returns the parsed request when valid', () => {
    expect(parseRequest(schema, valid)).toEqual(valid);
  });

  it.each([
    [{ ...valid, idempotencyKey: '' }, 'idempotency_key: is required'],
    [{ ...valid, idempotencyKey: 'has space' }, 'idempotency_key: must be printable ASCII without spaces'],
    [{ ...valid, paymentMethodId: 'nope' }, 'payment_method_id: must be a UUID'],
    [{ ...valid, lines: [{ quantity: 1 }, { quantity: 101 }] }, 'lines[1].quantity: must be at most 100'],
  ])('names the proto field of the first problem', (request, message) => {
    expect(() => parseRequest(schema, request)).toThrow(
      expect.objectContaining({ code: status.INVALID_ARGUMENT, message }),
    );
  });
});

describe('fields.text', () => {
  const name = z.object({ holderName: fields.text(100) });

  it('trims and keeps ordinary text, accents and emoji included', () => {
    expect(parseRequest(name, { holderName: '  Zoë 🙂 ' })).toEqual({ holderName: 'Zoë 🙂' });
  });

  // Found by tests/security/fuzz.test.ts: a NUL reached PostgreSQL, which refused it, and the caller got INTERNAL.
  it.each(['a\u0000b', 'line\nbreak', 'bell\u0007', 'del\u007f'])('refuses control characters in %j', (holderName) => {
    expect(() => parseRequest(name, { holderName })).toThrow(
      expect.objectContaining({
        code: status.INVALID_ARGUMENT,
        message: 'holder_name: must not contain control characters',
      }),
    );
  });
});
