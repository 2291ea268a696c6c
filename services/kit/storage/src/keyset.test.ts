import { describe, expect, it } from '@jest/globals';
import { afterCursor } from './keyset.js';

describe('afterCursor', () => {
  it('adds nothing on the first page', () => {
    expect(afterCursor('o', undefined).text).toBe('');
  });

  it('compares (created_at, id) of the given alias with the cursor, both as parameters', () => {
    const createdAt = new Date('2026-01-02T03:04:05.678Z');
    const id = '0b1f1c8e-6d2a-4f0e-9a55-3a9f0f6c1d2e';
    const condition = afterCursor('n', { createdAt, id });
    expect(condition.text).toBe('AND (n.created_at, n.id) < ($1::timestamptz, $2::uuid)');
    expect(condition.values).toEqual([createdAt, id]);
  });
});
