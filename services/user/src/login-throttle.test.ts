import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { loginThrottleKeyPrefix, MemoryCounters, peerHost, sourceAddress } from './login-throttle.js';

const metadataWith = (headers: Record<string, string>) => {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
};

describe('peerHost', () => {
  it.each([
    ['10.1.2.3:51234', '10.1.2.3'],
    ['[::1]:51234', '::1'],
    ['::ffff:127.0.0.1:51234', '::ffff:127.0.0.1'],
    ['unknown', 'unknown'],
  ])('%s is %s', (peer, host) => expect(peerHost(peer)).toBe(host));
});

describe('sourceAddress', () => {
  const spoofed = metadataWith({ 'x-forwarded-for': '6.6.6.6', 'x-envoy-external-address': '6.6.6.6' });

  it('ignores forwarding headers unless told to trust them', () => {
    expect(sourceAddress('10.0.0.9:4000', spoofed, 'peer')).toBe('10.0.0.9');
  });

  it('reads x-envoy-external-address when trusted', () => {
    const metadata = metadataWith({ 'x-envoy-external-address': ' 203.0.113.7 ' });
    expect(sourceAddress('127.0.0.6:4000', metadata, 'x-envoy-external-address')).toBe('203.0.113.7');
  });

  it('takes the last x-forwarded-for entry, the one the ingress appended, not what the client wrote', () => {
    const metadata = metadataWith({ 'x-forwarded-for': '6.6.6.6, 1.1.1.1,203.0.113.7' });
    expect(sourceAddress('127.0.0.6:4000', metadata, 'x-forwarded-for')).toBe('203.0.113.7');
  });

  it('falls back to the peer when the trusted header is missing', () => {
    expect(sourceAddress('10.0.0.9:4000', new Metadata(), 'x-forwarded-for')).toBe('10.0.0.9');
  });
});

describe('loginThrottleKeyPrefix', () => {
  it('is per user database', () => {
    expect(loginThrottleKeyPrefix('postgresql://u:p@db:5432/ordermesh_user_e2e')).toBe(
      'login-throttle:v1:ordermesh_user_e2e',
    );
  });
});

describe('MemoryCounters (the fallback while Redis is away)', () => {
  it('blocks past either limit within a window, and opens again in the next', async () => {
    let now = 0;
    const counters = new MemoryCounters(1_000, () => now);
    const keys: [string, string] = ['account', 'source'];
    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await counters.attempt(keys, [3, 100], 1_000));
    expect(results).toEqual([false, false, false, true]);
    now = 1_000;
    expect(await counters.attempt(keys, [3, 100], 1_000)).toBe(false);
  });

  it('takes forgiven attempts back', async () => {
    const counters = new MemoryCounters(1_000, () => 0);
    const keys: [string, string] = ['a', 's'];
    for (let i = 0; i < 5; i += 1) {
      expect(await counters.attempt(keys, [2, 2], 1_000)).toBe(false);
      await counters.forgive(keys);
    }
  });

  it('never goes below zero: forgiving more than was counted gives no extra attempts', async () => {
    const counters = new MemoryCounters(1_000, () => 0);
    const keys: [string, string] = ['a', 's'];
    await counters.forgive(keys);
    await counters.attempt(keys, [2, 2], 1_000);
    await counters.forgive(keys);
    await counters.forgive(keys);
    const results = [];
    for (let i = 0; i < 3; i += 1) results.push(await counters.attempt(keys, [2, 2], 1_000));
    expect(results).toEqual([false, false, true]);
  });

  it('stays within its key budget under a flood of distinct accounts', async () => {
    const counters = new MemoryCounters(10, () => 0);
    for (let i = 0; i < 100; i += 1) await counters.attempt([`account-${i}`, `source-${i}`], [1, 1], 1_000);
    expect((counters as unknown as { windows: Map<string, unknown> }).windows.size).toBeLessThanOrEqual(10);
  });
});
