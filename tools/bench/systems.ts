/**
 * The two systems under test, as sets of processes on loopback: the platform
 * (tools/dev/platform.ts, telemetry on as in production) and the bare
 * baseline (tools/bench/bare, raw libraries only).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { connect } from 'amqplib';
import {
  databaseUrl,
  ensureSigningKey,
  metricsPort,
  migrateDatabases,
  Platform,
  type PlatformSettings,
  ROOT,
  SERVICE_NAMES,
} from '../dev/platform.ts';
import { childPidsMatching } from './proc-stats.ts';
import * as bench from './settings.ts';

export interface SystemUnderTest {
  name: 'platform' | 'bare';
  /** Where clients call UserService. */
  address: string;
  /** Process label → pid, for CPU and memory readings. */
  pids: Map<string, number>;
  /** What the platform's own metrics count so far; only the platform has them. */
  readings?: () => Promise<PlatformReadings>;
  stop(): Promise<void>;
}

/**
 * Sampling as the cluster runs it (kustomize/components/observability): a tenth of the
 * traces recorded. Spans of the others are still started and their context propagated.
 */
const PRODUCTION_SAMPLING = { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' };

export const platformSettings: PlatformSettings = {
  databaseSuffix: bench.DATABASE_SUFFIX,
  grpcBasePort: bench.GRPC_BASE_PORT,
  jwksPort: bench.JWKS_PORT,
  stateDir: bench.STATE_DIR,
  smtpUrl: `smtp://127.0.0.1:${bench.SMTP_PORT}`,
  env: {
    // Cheap password hashing for the sign-ups only (scrypt N = 2^12, p = 1, below production strength); no RPC measured here hashes.
    user: {
      ...PRODUCTION_SAMPLING,
      EVENTS_EXCHANGE: bench.EXCHANGE,
      PASSWORD_SCRYPT_LOG_N: '12',
      PROFILE_CACHE_TTL_SECONDS: '3600',
    },
    // No simulated provider latency: the baseline has no provider either, so both measure only their own work.
    order: { ...PRODUCTION_SAMPLING, EVENTS_EXCHANGE: bench.EXCHANGE },
    payment: { ...PRODUCTION_SAMPLING, EVENTS_EXCHANGE: bench.EXCHANGE, PAYMENT_SIM_LATENCY_MS: '0' },
    notification: { ...PRODUCTION_SAMPLING, EVENTS_EXCHANGE: bench.EXCHANGE, NOTIFICATION_QUEUE: bench.QUEUE },
  },
};

export const orderDatabaseUrl = () => databaseUrl(platformSettings, 'order');

/** Migrates the _bench databases (kept between runs: the seeded million rows take a while) and starts the services. */
export async function startPlatform(): Promise<SystemUnderTest> {
  await migrateDatabases(platformSettings);
  const platform = new Platform(platformSettings);
  await platform.start();
  const pids = new Map<string, number>();
  for (const name of SERVICE_NAMES) {
    const [pid] = childPidsMatching(process.pid, join('services', name, 'dist/main.js'));
    if (pid === undefined) throw new Error(`no process found for ${name}`);
    pids.set(name, pid);
  }
  return {
    name: 'platform',
    address: platform.address('user'),
    pids,
    readings: platformReadings,
    stop: () => platform.stop(),
  };
}

/** Counts from the services' own Prometheus metrics, each a total since the process started. */
export interface PlatformReadings {
  /**
   * Process label → database queries (round trips) it has made: the count of the pg
   * instrumentation's duration histogram. Only queries made inside a traced request or
   * message count (the instrumentation's requireParentSpan), which is every query of
   * PlaceOrder's chain; the outbox relay's polling is left out.
   */
  queries: Map<string, number>;
  /** Events NotificationService's consumer handled (messaging_process_duration without error_type). */
  eventsProcessed: number;
  /** ...and those whose handler failed (error_type set): retried later or dead-lettered. */
  eventsFailed: number;
  /** Events the order and payment outbox relays had confirmed by the broker, and in how many publishes (batches). */
  eventsPublished: number;
  publishes: number;
}

/** Sums the samples of one metric (any labels), split by whether they carry error_type. */
function sumSamples(text: string, metric: string): { ok: number; failed: number } {
  const sample = new RegExp(`^${metric}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm');
  const sums = { ok: 0, failed: 0 };
  for (const [, labels, value] of text.matchAll(sample)) {
    if (/(?:^|,)error_type="/.test(labels ?? '')) sums.failed += Number(value);
    else sums.ok += Number(value);
  }
  return sums;
}

async function platformReadings(): Promise<PlatformReadings> {
  const readings: PlatformReadings = {
    queries: new Map(),
    eventsProcessed: 0,
    eventsFailed: 0,
    eventsPublished: 0,
    publishes: 0,
  };
  for (const name of SERVICE_NAMES) {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort(platformSettings, name)}/metrics`)).text();
    const queries = sumSamples(text, 'db_client_operation_duration(?:_seconds)?_count');
    readings.queries.set(name, queries.ok + queries.failed);
    if (name === 'notification') {
      const processed = sumSamples(text, 'messaging_process_duration(?:_seconds)?_count');
      readings.eventsProcessed = processed.ok;
      readings.eventsFailed = processed.failed;
    }
    if (name === 'order' || name === 'payment') {
      readings.eventsPublished += sumSamples(text, 'messaging_client_sent_messages(?:_total)?').ok;
      readings.publishes += sumSamples(text, 'messaging_client_operation_duration(?:_seconds)?_count').ok;
    }
  }
  return readings;
}

/** Fails unless every service serves OpenTelemetry metrics: the benchmark measures the platform as it runs in production. */
export async function assertTelemetryOn(): Promise<void> {
  for (const name of SERVICE_NAMES) {
    const url = `http://127.0.0.1:${metricsPort(platformSettings, name)}/metrics`;
    const response = await fetch(url).catch(() => undefined);
    if (!response?.ok) throw new Error(`telemetry is off in ${name}: nothing at ${url}`);
  }
}

/** Starts a TypeScript module of this folder as a child process and waits for its first IPC message, when it sends one. */
export async function startChild(
  module: string,
  env: Record<string, string>,
  waitForReady: boolean,
): Promise<ChildProcess> {
  const child = fork(join(ROOT, 'tools/bench', module), [], {
    env: { PATH: process.env.PATH, ...env },
    execArgv: ['--experimental-strip-types', '--no-warnings'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (waitForReady) {
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`${module} exited with ${code}`)));
    });
  }
  return child;
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/** The bare baseline's four processes, on the same databases, Redis and broker as the platform, with their own exchange. */
export async function startBare(): Promise<SystemUnderTest> {
  const common = {
    AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
    REDIS_URL: 'redis://127.0.0.1:6379',
    EXCHANGE: bench.BARE_EXCHANGE,
  };
  const at = (port: number) => `127.0.0.1:${port}`;
  const children: Array<[string, ChildProcess]> = [];
  children.push([
    'notification',
    await startChild(
      'bare/notification-consumer.ts',
      {
        ...common,
        QUEUE: bench.BARE_QUEUE,
        DATABASE_URL: databaseUrl(platformSettings, 'notification'),
        SMTP_URL: `smtp://127.0.0.1:${bench.BARE_SMTP_PORT}`,
      },
      true,
    ),
  ]);
  const servers: Array<[string, string, Record<string, string>]> = [
    ['payment', 'bare/payment-server.ts', { DATABASE_URL: databaseUrl(platformSettings, 'payment') }],
    ['order', 'bare/order-server.ts', { DATABASE_URL: orderDatabaseUrl(), PAYMENT_ADDR: at(bench.BARE_PORTS.payment) }],
    [
      'user',
      'bare/user-server.ts',
      {
        ORDER_ADDR: at(bench.BARE_PORTS.order),
        JWT_PUBLIC_KEY_FILE: ensureSigningKey(bench.STATE_DIR).publicKeyFile,
      },
    ],
  ];
  for (const [name, module, env] of servers) {
    const port = bench.BARE_PORTS[name as keyof typeof bench.BARE_PORTS];
    children.push([name, await startChild(module, { ...common, ...env, LISTEN: at(port) }, false)]);
  }
  return {
    name: 'bare',
    address: at(bench.BARE_PORTS.user),
    pids: new Map(children.map(([name, child]) => [name, child.pid ?? 0])),
    stop: async () => {
      await Promise.all(children.map(([, child]) => stopChild(child)));
    },
  };
}

/** Deletes what the two systems declared on the broker, so runs leave nothing behind. */
export async function deleteBrokerObjects(): Promise<void> {
  const connection = await connect('amqp://guest:guest@127.0.0.1:5672');
  const channel = await connection.createChannel();
  const queues = [
    bench.QUEUE,
    `${bench.QUEUE}.dead`,
    `${bench.EXCHANGE}.unrouted`,
    ...[1000, 5000, 30000].map((delay) => `${bench.QUEUE}.retry.${delay}ms`),
    bench.BARE_QUEUE,
  ];
  for (const queue of queues) await channel.deleteQueue(queue);
  for (const exchange of [bench.EXCHANGE, `${bench.EXCHANGE}.unrouted`, `${bench.QUEUE}.dlx`, bench.BARE_EXCHANGE]) {
    await channel.deleteExchange(exchange);
  }
  await connection.close();
}
