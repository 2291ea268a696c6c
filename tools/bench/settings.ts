/** Ports, names and step lengths of one benchmark run (loopback only, apart from colleagues' test ports), and its options. */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GRPC_BASE_PORT = 24050;
export const JWKS_PORT = 24049;
export const SMTP_PORT = 24048;
/** The bare baseline's own SMTP sink, so that each system's mails are counted apart. */
export const BARE_SMTP_PORT = 24074;
export const BARE_PORTS = { user: 24071, order: 24072, payment: 24073 } as const;
export const DATABASE_SUFFIX = '_bench';
export const STATE_DIR = join(tmpdir(), 'ordermesh-bench');
export const EXCHANGE = 'ordermesh.bench';
export const QUEUE = 'notification.bench';
export const BARE_EXCHANGE = 'ordermesh.bench.bare';
export const BARE_QUEUE = 'notification.bench.bare';

/** Orders of the two ListMyOrders users, and rows in the orders table in all. */
export const SMALL_HISTORY = 100;
export const LARGE_HISTORY = 100_000;
export const TABLE_ROWS = 1_000_000;
export const BUYERS = 16;

/** The benchmark's accounts: the buyers, then the owners of the two order histories. */
export const ACCOUNT_NAMES = [
  ...Array.from({ length: BUYERS }, (_, i) => `buyer-${i}`),
  `history-${SMALL_HISTORY}`,
  `history-${LARGE_HISTORY}`,
];

export interface StepTimes {
  /** Each measured step. */
  stepMs: number;
  /** Unmeasured load before each step (JIT, pools, caches). */
  warmupMs: number;
  /** PlaceOrder at one call in flight, for the unloaded latency. */
  serialMs: number;
}

export const stepTimes = (quick: boolean): StepTimes =>
  quick ? { stepMs: 2_500, warmupMs: 750, serialMs: 1_500 } : { stepMs: 12_000, warmupMs: 3_000, serialMs: 5_000 };

/** A count given on a bench command's line, e.g. `--samples 5`: a whole number >= 1, or an error naming the option. */
export function countOption(name: string, text: string): number {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--${name} must be a whole number >= 1, got ${text}`);
  return count;
}
