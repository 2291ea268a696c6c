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
  const rows = [row(5, 'e'), row(4, 'd'), row(3, 'c')];

  it('returns no token when the extra row is absent', () => {
    expect(toPage(rows, 3)).toEqual({ rows, nextPageToken: '' });
  });

  it('cuts the extra row and points the token at the last row kept', () => {
    const page = toPage(rows, 2);
    expect(page.rows.map((r) => r.id)).toEqual(['e', 'd']);
    expect(decodePageToken(page.nextPageToken)).toEqual(row(4, 'd'));
  });
});
