/**
 * The load profiles (smoke, average, stress, spike, soak) as k6 options. Pure
 * data, no k6 runtime module: the shape test imports it under Node too.
 *
 * Every scenario uses an arrival-rate executor (open model): k6 starts
 * iterations at the given rate whether or not earlier ones have answered, so
 * a slow system shows up as latency and dropped iterations instead of quietly
 * lowering the load (coordinated omission).
 */
import type { Options, Scenario } from 'k6/options';

export const PROFILE_NAMES = ['smoke', 'average', 'stress', 'spike', 'soak'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const RPC_NAMES = ['GetProfile', 'ListMyOrders', 'PlaceOrder'] as const;
export type RpcName = (typeof RPC_NAMES)[number];

/** The function each scenario runs (exported by ordermesh.ts) and its share of the total rate. */
const MIX: Record<RpcName, { exec: string; share: number }> = {
  GetProfile: { exec: 'getProfile', share: 0.5 },
  ListMyOrders: { exec: 'listMyOrders', share: 0.35 },
  PlaceOrder: { exec: 'placeOrder', share: 0.15 },
};

/** Latency budgets in ms at average load; stress and spike allow a multiple of them. */
const BUDGET_MS: Record<RpcName, { p95: number; p99: number }> = {
  GetProfile: { p95: 50, p99: 100 },
  ListMyOrders: { p95: 100, p99: 250 },
  PlaceOrder: { p95: 300, p99: 600 },
};

interface ProfileShape {
  /** Per-scenario executor settings, given the scenario's target rate (iterations/s). */
  executor(rate: number): Scenario;
  latencyFactor: number;
  /** Highest acceptable share of failed calls. */
  maxErrorRate: number;
}

const vus = (rate: number, seconds = 1) => ({
  // Enough VUs for `rate` calls of up to `seconds` each in flight; k6 adds more up to maxVUs.
  preAllocatedVUs: Math.max(2, Math.ceil(rate * seconds)),
  maxVUs: Math.max(10, Math.ceil(rate * seconds * 4)),
});

const atLeastOne = (rate: number) => Math.max(1, Math.round(rate));

const PROFILES: Record<ProfileName, ProfileShape> = {
  smoke: {
    executor: () => ({ executor: 'constant-arrival-rate', rate: 1, timeUnit: '1s', duration: '30s', ...vus(1) }),
    latencyFactor: 1,
    maxErrorRate: 0,
  },
  average: {
    executor: (rate) => ({
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      stages: [
        { target: atLeastOne(rate), duration: '2m' },
        { target: atLeastOne(rate), duration: '10m' },
        { target: 0, duration: '1m' },
      ],
      ...vus(rate),
    }),
    latencyFactor: 1,
    maxErrorRate: 0.001,
  },
  stress: {
    executor: (rate) => ({
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      stages: [1, 1, 1.5, 1.5, 2, 2, 3, 3, 0].map((factor, step) => ({
        target: atLeastOne(rate * factor),
        duration: step % 2 === 0 ? '2m' : '5m',
      })),
      ...vus(rate * 3, 2),
    }),
    latencyFactor: 3,
    maxErrorRate: 0.01,
  },
  spike: {
    executor: (rate) => ({
      executor: 'ramping-arrival-rate',
      startRate: atLeastOne(rate * 0.2),
      timeUnit: '1s',
      stages: [
        { target: atLeastOne(rate * 5), duration: '30s' },
        { target: atLeastOne(rate * 5), duration: '1m' },
        { target: atLeastOne(rate * 0.2), duration: '30s' },
        { target: atLeastOne(rate * 0.2), duration: '2m' },
      ],
      ...vus(rate * 5, 2),
    }),
    latencyFactor: 4,
    maxErrorRate: 0.05,
  },
  soak: {
    executor: (rate) => ({
      executor: 'constant-arrival-rate',
      rate: atLeastOne(rate * 0.8),
      timeUnit: '1s',
      duration: '2h',
      ...vus(rate),
    }),
    latencyFactor: 1,
    maxErrorRate: 0.001,
  },
};

export const isProfileName = (name: string): name is ProfileName => (PROFILE_NAMES as readonly string[]).includes(name);

/**
 * k6 options for one profile: one scenario per RPC (tagged rpc=<name>) at its
 * share of `totalRate` calls/s, with per-RPC latency and error thresholds and
 * a threshold on the gRPC status checks.
 */
export function profileOptions(profile: ProfileName, totalRate: number): Options {
  const shape = PROFILES[profile];
  const scenarios: Record<string, Scenario> = {};
  const thresholds: Record<string, string[]> = {
    checks: [`rate>=${1 - shape.maxErrorRate}`],
  };
  for (const rpc of RPC_NAMES) {
    const { exec, share } = MIX[rpc];
    scenarios[exec] = { ...shape.executor(totalRate * share), exec, tags: { rpc } };
    const budget = BUDGET_MS[rpc];
    thresholds[`grpc_req_duration{rpc:${rpc}}`] = [
      `p(95)<${budget.p95 * shape.latencyFactor}`,
      `p(99)<${budget.p99 * shape.latencyFactor}`,
    ];
    thresholds[`rpc_errors{rpc:${rpc}}`] = [`rate<=${shape.maxErrorRate}`];
  }
  return { scenarios, thresholds, setupTimeout: '5m', summaryTrendStats: ['avg', 'p(50)', 'p(95)', 'p(99)', 'max'] };
}
