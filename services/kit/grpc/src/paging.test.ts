import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { decodePageToken, encodePageToken, toPage } from './paging.js';

const row = (ms: number, id: string) => ({ createdAt: new Date(ms), id });

describe('page tokens', () => {
  it('round-trips a cursor', () => {
    const cursor = row(1_700_000_000_123, '2f1c0d1e-0000-4000-8000-000000000001');
    expect(decodePageToken(encodePageToken(cursor))).toEqual(cursor);
  });

  it('treats an empty token as the first page', () => {
    expect(decodePageToken('')).toBeUndefined();
  });

  const token = (cursor: unknown) => Buffer.from(JSON.stringify(cursor)).toString('base64url');
  const id = '2f1c0d1e-0000-4000-8000-000000000001';

  // Found by tests/security/fuzz.test.ts: these reached the query and failed there as INTERNAL.
  it.each([
    ['a time no timestamp can hold', token([1e20, id])],
    ['a negative time', token([-1, id])],
    ['a fractional time', token([1.5, id])],
    ['an id that is not a UUID', token([1_700_000_000_000, 'not-a-uuid'])],
    ['a NUL in the id', token([1_700_000_000_000, '\u0000'])],
  ])('rejects a forged token with %s', (_what, forged) => {
    expect(() => decodePageToken(forged)).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT }));
  });

  it.each(['garbage', Buffer.from('[1]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')])(
    'rejects %s with INVALID_ARGUMENT naming page_token',
    (token) => {
      expect(() => decodePageToken(token)).toThrow(
        expect.objectContaining({ code: status.INVALID_ARGUMENT, message: expect.stringContaining('page_token') }),
      );
    },
  );
});

describe('toPage', () => {
  // Ids are UUIDs, as in every table: page tokens carry nothing else.
  const c = '00000000-0000-4000-8000-00000000000c';
  const d = '00000000-0000-4000-8000-00000000000d';
  const e = '00000000-0000-4000-8000-00000000000e';
  const rows = [row(5, e), row(4, d), row(3, c)];

  it('returns no token when the extra row is absent', () => {
    expect(toPage(rows, 3)).toEqual({ rows, nextPageToken: '' });
  });

  it('cuts the extra row and points the token at the last row kept', () => {
    const page = toPage(rows, 2);
    expect(page.rows.map((r) => r.id)).toEqual([e, d]);
    expect(decodePageToken(page.nextPageToken)).toEqual(row(4, d));
  });
});
