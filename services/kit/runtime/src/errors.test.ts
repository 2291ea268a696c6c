import { describe, expect, it } from '@jest/globals';
import { isTransientDatabaseError, isUniqueViolation } from './errors.js';

/** What Prisma 7 with @prisma/adapter-pg threw here after pg_terminate_backend on the pool's connection. */
const terminatedBackend = (code: string) => ({
  code,
  meta: {
    driverAdapterError: {
      name: 'DriverAdapterError',
      cause: { originalCode: '57P01', kind: 'postgres', code: '57P01', severity: 'FATAL' },
    },
  },
  message: 'Raw query failed. Code: `57P01`. Message: `terminating connection due to administrator command`',
});

describe('isTransientDatabaseError', () => {
  it.each([
    ['a terminated backend in a query (P2010)', terminatedBackend('P2010')],
    ['a terminated backend in a transaction (P2039)', terminatedBackend('P2039')],
    ['a closed connection', { code: 'P1017' }],
    ['an unreachable database', { code: 'P1001' }],
    ['an exhausted pool', { code: 'P2024' }],
    [
      'a dropped socket reported by the adapter',
      { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'ConnectionClosed' } } } },
    ],
    ['a connection exception SQLSTATE from pg', { code: '08006' }],
    ['a reset socket', { code: 'ECONNRESET' }],
    ['pg losing its connection', { message: 'Connection terminated unexpectedly' }],
  ])('is true for %s', (_, error) => {
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: 'P2002' }],
    [
      'a syntax error from postgres',
      { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '42601' } } } },
    ],
    ['a plain Error', new Error('boom')],
    ['undefined', undefined],
    ['null', null],
  ])('is false for %s', (_, error) => {
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});

describe('isUniqueViolation', () => {
  it.each([
    ["Prisma's P2002", { code: 'P2002' }],
    ['SQLSTATE 23505 from pg', { code: '23505' }],
  ])('is true for %s', (_, error) => {
    expect(isUniqueViolation(error)).toBe(true);
  });

  it.each([
    ['a foreign key violation', { code: '23503' }],
    ['a plain Error', new Error('boom')],
    ['null', null],
  ])('is false for %s', (_, error) => {
    expect(isUniqueViolation(error)).toBe(false);
  });
});
