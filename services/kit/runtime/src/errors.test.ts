import { describe, expect, it } from '@jest/globals';
import { isTransientDatabaseError, isUniqueViolation } from './errors.js';

/** The fields of the DatabaseError pg threw here for a query in flight when pg_terminate_backend ended its connection. */
const terminatedBackend = {
  code: '57P01',
  severity: 'FATAL',
  message: 'terminating connection due to administrator command',
};

describe('isTransientDatabaseError', () => {
  it.each([
    ['a terminated backend', terminatedBackend],
    ['too many connections', { code: '53300' }],
    ['a connection exception SQLSTATE', { code: '08006' }],
    ['a reset socket', { code: 'ECONNRESET' }],
    ['a refused connection', { code: 'ECONNREFUSED' }],
    ['pg losing its connection', { message: 'Connection terminated unexpectedly' }],
    ['no free connection in time', new Error('timeout exceeded when trying to connect')],
    ['no new connection in time', new Error('Connection terminated due to connection timeout')],
  ])('is true for %s', (_, error) => {
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    ['a unique violation', { code: '23505' }],
    ['a syntax error', { code: '42601' }],
    ['a code that only starts like a connection exception', { code: '0800' }],
    ['a plain Error', new Error('boom')],
    ['undefined', undefined],
    ['null', null],
  ])('is false for %s', (_, error) => {
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});

describe('isUniqueViolation', () => {
  it('is true for SQLSTATE 23505', () => {
    expect(isUniqueViolation({ code: '23505' })).toBe(true);
  });

  it.each([
    ['a foreign key violation', { code: '23503' }],
    ['a plain Error', new Error('boom')],
    ['null', null],
  ])('is false for %s', (_, error) => {
    expect(isUniqueViolation(error)).toBe(false);
  });
});
