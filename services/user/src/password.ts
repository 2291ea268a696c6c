import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { AppError } from '@ordermesh/runtime';

const KEY_LENGTH = 32;
const BLOCK_SIZE = 8;

/**
 * OWASP's scrypt settings of equal strength (Password Storage Cheat Sheet), log2 N → p,
 * all with r = 8: less memory per hash (128·r·N bytes) is paid for with more passes.
 * Below 2^13 no setting is acceptable for production; those are for tests and keep p = 1.
 */
const OWASP_PARALLELISM: Readonly<Record<number, number>> = { 13: 10, 14: 5, 15: 3, 16: 2 };

/** The parallelism that gives N = 2^logN the strength OWASP asks of scrypt (1 from 2^17 up). */
export const parallelismFor = (logN: number): number => (logN >= 17 ? 1 : (OWASP_PARALLELISM[logN] ?? 1));

/**
 * Bounds how many password derivations run at once and how many may wait.
 * Each holds 128·r·N bytes while it runs (32 MiB at the default N = 2^15), so
 * without a bound a burst of logins sizes the process, not its memory limit.
 * A caller beyond the queue is turned away at once with RESOURCE_EXHAUSTED
 * (retryable) rather than made to wait behind seconds of hashing.
 */
export class HashLimit {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new Error('maxConcurrent: must be an integer ≥ 1');
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new Error('maxQueued: must be an integer ≥ 0');
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) {
      if (this.waiting.length >= this.maxQueued)
        throw new AppError(status.RESOURCE_EXHAUSTED, 'too many password checks in progress; try again shortly');
      // The slot is handed over by the finishing call, so `running` never drops in between.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/**
 * Two at a time: at the default N = 2^15 that is 64 MiB of hashing at most, and
 * two of libuv's four threads stay free for other work (DNS, file reads). About
 * ten seconds of logins may queue; more are turned away.
 */
const hashLimit = new HashLimit(2, 64);

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return hashLimit.run(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        // maxmem: what OpenSSL allocates for these parameters (V and the p blocks); Node's default, 32 MiB, is too small.
        scrypt(
          password.normalize('NFKC'),
          salt,
          KEY_LENGTH,
          { N, r, p, maxmem: 128 * r * (N + p + 2) },
          (error, key) => (error ? reject(error) : resolve(key)),
        ),
      ),
  );
}

/**
 * Hashes a password with scrypt (memory-hard). The parameters are stored with
 * the hash, `scrypt$logN$r$p$salt$key`, so they can be raised later without
 * breaking existing accounts.
 */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const p = parallelismFor(logN);
  const key = await derive(password, salt, logN, BLOCK_SIZE, p);
  return ['scrypt', logN, BLOCK_SIZE, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A hash to verify against when the account does not exist, so that a login
 * for an unknown email takes as long as one with a wrong password.
 */
export const decoyHash = (logN: number) => hashPassword(randomBytes(16).toString('hex'), logN);
