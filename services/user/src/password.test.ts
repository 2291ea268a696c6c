import { scryptSync } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from '@jest/globals';
import { decoyHash, HashLimit, hashPassword, parallelismFor, verifyPassword } from './password.js';

// Cheap parameters: the tests are about the format and the checks, not the cost.
const LOG_N = 10;

describe('hashPassword', () => {
  it('stores scheme, parameters, salt and key as scrypt$logN$r$p$salt$key', async () => {
    const stored = await hashPassword('correct horse battery staple', LOG_N);
    const [scheme, logN, r, p, salt, key, ...rest] = stored.split('$');
    expect([scheme, logN, r, p]).toEqual(['scrypt', '10', '8', '1']);
    expect(rest).toEqual([]);
    expect(Buffer.from(salt ?? '', 'base64url')).toHaveLength(16);
    expect(Buffer.from(key ?? '', 'base64url')).toHaveLength(32);
    expect(stored).not.toContain('correct horse');
  });

  it('derives the key with exactly the stored parameters', async () => {
    const stored = await hashPassword('s3cret password', 11);
    const [, logN, r, p, salt, key] = stored.split('$');
    const expected = scryptSync('s3cret password', Buffer.from(salt ?? '', 'base64url'), 32, {
      N: 2 ** Number(logN),
      r: Number(r),
      p: Number(p),
    });
    expect(logN).toBe('11');
    expect(expected.toString('base64url')).toBe(key);
  });

  it('salts every hash, so one password gives different hashes', async () => {
    const [a, b] = await Promise.all([hashPassword('same password', LOG_N), hashPassword('same password', LOG_N)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same password', a)).toBe(true);
    expect(await verifyPassword('same password', b)).toBe(true);
  });
});

describe('verifyPassword', () => {
  it('accepts the right password and rejects others', async () => {
    const stored = await hashPassword('the right password', LOG_N);
    expect(await verifyPassword('the right password', stored)).toBe(true);
    expect(await verifyPassword('the right passworD', stored)).toBe(false);
    expect(await verifyPassword('the right password ', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('verifies hashes made with other parameters, so the cost can be raised later', async () => {
    const old = await hashPassword('an old account', 10);
    const current = await hashPassword('an old account', 12);
    expect(await verifyPassword('an old account', old)).toBe(true);
    expect(await verifyPassword('an old account', current)).toBe(true);
  });

  it('rejects a hash whose stored parameters were changed', async () => {
    const stored = await hashPassword('parameters matter', LOG_N);
    const tampered = stored.replace(/^scrypt\$10\$/, 'scrypt$11$');
    expect(tampered).not.toBe(stored);
    expect(await verifyPassword('parameters matter', tampered)).toBe(false);
  });

  it('normalises Unicode (NFKC), so one password typed two ways is the same', async () => {
    const composed = 'caf\u00e9 au lait!';
    const decomposed = 'cafe\u0301 au lait!';
    const stored = await hashPassword(composed, LOG_N);
    expect(await verifyPassword(decomposed, stored)).toBe(true);
  });

  it.each(['', 'plain-text-password', 'bcrypt$10$8$1$abc$def', 'scrypt$10$8$1$$', 'scrypt$10$8$1'])(
    'returns false for a stored value that is not an scrypt hash: %j',
    async (stored) => {
      expect(await verifyPassword('anything', stored)).toBe(false);
    },
  );
});

describe('decoyHash', () => {
  it('is a real hash of the given cost that no guessable password matches', async () => {
    const decoy = await decoyHash(LOG_N);
    expect(decoy.split('$').slice(0, 4)).toEqual(['scrypt', '10', '8', '1']);
    expect(await verifyPassword('', decoy)).toBe(false);
    expect(await verifyPassword('password', decoy)).toBe(false);
  });
});

describe('parallelismFor', () => {
  it("follows OWASP's table of equally strong scrypt settings", () => {
    expect([17, 16, 15, 14, 13].map(parallelismFor)).toEqual([1, 2, 3, 5, 10]);
    expect(parallelismFor(18)).toBe(1);
  });

  it('is stored with the hash, so the stronger passes are really made', async () => {
    const stored = await hashPassword('thirteen passes', 13);
    const [, logN, r, p, salt, key] = stored.split('$');
    expect([logN, r, p]).toEqual(['13', '8', '10']);
    const expected = scryptSync('thirteen passes', Buffer.from(salt ?? '', 'base64url'), 32, {
      N: 2 ** 13,
      r: 8,
      p: 10,
    });
    expect(key).toBe(expected.toString('base64url'));
  });
});

describe('HashLimit', () => {
  /** Work that finishes when the test says so. */
  function gate() {
    let open = () => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    return { open, work: () => opened };
  }

  it('runs at most maxConcurrent at once and starts the waiting ones in turn', async () => {
    const limit = new HashLimit(2, 10);
    let running = 0;
    let mostAtOnce = 0;
    const gates = Array.from({ length: 5 }, gate);
    const done = gates.map((g) =>
      limit.run(async () => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await g.work();
        running -= 1;
      }),
    );
    for (const g of gates) {
      await new Promise((resolve) => setImmediate(resolve));
      g.open();
    }
    await Promise.all(done);
    expect(mostAtOnce).toBe(2);
    expect(running).toBe(0);
  });

  it('turns a caller beyond the queue away with RESOURCE_EXHAUSTED, and serves again once there is room', async () => {
    const limit = new HashLimit(1, 1);
    const first = gate();
    const running = limit.run(first.work);
    const queued = limit.run(async () => 'queued');
    await expect(limit.run(async () => 'too many')).rejects.toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      message: expect.stringContaining('too many password checks'),
    });
    first.open();
    await running;
    expect(await queued).toBe('queued');
    expect(await limit.run(async () => 'later')).toBe('later');
  });

  it('frees the slot when the work fails', async () => {
    const limit = new HashLimit(1, 0);
    await expect(limit.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await limit.run(async () => 'next')).toBe('next');
  });

  it('rejects bounds that make no sense', () => {
    expect(() => new HashLimit(0, 1)).toThrow('maxConcurrent');
    expect(() => new HashLimit(1, -1)).toThrow('maxQueued');
  });
});
