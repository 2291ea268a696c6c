/**
 * The chaos suite: steady PlaceOrder/GetMyOrder traffic through UserService,
 * with UserService and OrderService enforcing mesh/ in proxyless mode, while
 * one thing at a time breaks; then the invariants read back from the
 * databases and the mail sink. Each scenario adds a row to the table printed
 * at the end (docs/chaos.md explains the method and shows a measured table).
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitUntilServing } from '@ordermesh/dev/platform';
import { OrderStatus } from '@ordermesh/proto/order';
import { type E2E, query, startE2E } from '@ordermesh/testing';
import {
  checkInvariants,
  type InvariantResult,
  waitForNotifications,
  waitForSettlement,
} from './support/invariants.ts';
import { ejections, goProxyless, orderTrace, type Proxyless, picksOf, SECOND_PAYMENT } from './support/proxyless.ts';
import { markdownTable, type Row, row, writeTable } from './support/table.ts';
import { type Buyer, failureCount, sleep, Traffic, type TrafficResult } from './support/traffic.ts';

/** Calls a second: modest, so that what the table shows is the fault, not this 2-core machine's limits. */
const RATE = 10;
const GRPC_BASE_PORT = 25000;
const SECOND_PAYMENT_PORT = GRPC_BASE_PORT + 103;
const REPORT_FILE = join(process.env.CHAOS_REPORT_DIR ?? join(tmpdir(), 'ordermesh-chaos'), 'chaos-table.md');

let e2e: E2E;
let traffic: Traffic;
const rows: Row[] = [];

beforeAll(async () => {
  e2e = await startE2E('chaos', GRPC_BASE_PORT);
  const buyers: Buyer[] = [];
  for (let i = 0; i < 4; i++) buyers.push(await e2e.signUp());
  traffic = new Traffic(e2e.users, buyers);
}, 180_000);

afterAll(async () => {
  if (rows.length > 0) {
    console.log(`chaos suite, ${RATE} calls/s (PlaceOrder and GetMyOrder in turn)\n\n${markdownTable(rows)}`);
    writeTable(REPORT_FILE, rows, `chaos suite, ${RATE} calls/s, ${new Date().toISOString()}`);
  }
  await e2e?.close();
}, 60_000);

function expectAllHold(invariants: InvariantResult[]) {
  expect(invariants.filter((i) => !i.ok)).toEqual([]);
}

/** Calls that failed among those started after `fromMs` into the run. */
const failuresAfter = (result: TrafficResult, fromMs: number) =>
  result.outcomes.filter((o) => o.startedAtMs >= fromMs && o.code !== status.OK).length;

/** Events committed but not yet confirmed by the broker, in the publishers' outboxes. */
async function unsentEvents(): Promise<number> {
  let unsent = 0;
  for (const name of ['user', 'order', 'payment'] as const) {
    const [waiting] = await query<{ n: number }>(
      e2e.databaseUrl(name),
      'SELECT count(*)::int AS n FROM outbox_events WHERE sent_at IS NULL',
    );
    unsent += waiting?.n ?? 0;
  }
  return unsent;
}

/** The "unexpected error" lines (answered INTERNAL) a service logged since `since` (epoch ms), as "type: message". */
function unexpectedErrors(name: 'order', since: number): string[] {
  const found: string[] = [];
  for (const line of readFileSync(e2e.platform.logFile(name), 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; time?: string; err?: { type?: string; message?: string } };
    if (entry.msg === 'unexpected error' && Date.parse(entry.time ?? '') >= since) {
      const message = (entry.err?.message ?? '').trim().split('\n').at(-1) ?? '';
      found.push(`${entry.err?.type}: ${message.slice(0, 80)}`);
    }
  }
  return found;
}

/** How many times a service's process has started listening, from its log: a restart adds one. */
const startsOf = (name: 'order' | 'payment') =>
  readFileSync(e2e.platform.logFile(name), 'utf8')
    .split('\n')
    .filter((line) => line.includes('gRPC server listening')).length;

describe('chaos: steady traffic on the mesh-enforced path (proxyless xDS, two PaymentService instances)', () => {
  let mesh: Proxyless;

  beforeAll(async () => {
    mesh = await goProxyless(e2e, { controlPlane: GRPC_BASE_PORT + 90, secondPayment: SECOND_PAYMENT_PORT });
  }, 120_000);

  afterAll(async () => {
    await mesh?.close();
  });

  it('one of two PaymentService instances SIGKILLed mid-load: retries hide it and the dead one gets no more calls', async () => {
    const { secondPayment } = mesh;
    const startedAt = Date.now();
    let killedAt = 0;
    const result = await traffic.run(RATE, 12_000, async () => {
      await sleep(4_000);
      killedAt = Date.now();
      await e2e.platform.stopInstance('payment', SECOND_PAYMENT, 'SIGKILL');
    });
    const endedAt = Date.now();
    await waitForSettlement(e2e, result.accepted);
    const invariants = await checkInvariants(e2e, traffic.accepted);
    const trace = orderTrace(e2e);
    const before = picksOf(trace, secondPayment, startedAt, killedAt);
    const firstSecond = picksOf(trace, secondPayment, killedAt, killedAt + 1_000);
    const later = picksOf(trace, secondPayment, killedAt + 1_000, endedAt);
    const survivor = picksOf(trace, e2e.platform.address('payment'), killedAt, endedAt);
    const pendingAnswers = result.accepted.filter(
      (o) => o.answeredStatus === OrderStatus.ORDER_STATUS_PENDING_PAYMENT,
    ).length;
    rows.push(
      row(
        'payment 1 of 2 SIGKILLed',
        result,
        invariants,
        `calls to the killed instance: ${before} before, ${firstSecond} in the 1st s after, ${later} later ` +
          `(survivor: ${survivor} after); ejections: ${ejections(trace, startedAt, endedAt).length}`,
      ),
    );
    // Back to two instances for the next scenarios.
    await e2e.platform.startInstance('payment', SECOND_PAYMENT, mesh.secondPaymentOptions);

    expect(failureCount(result)).toBe(0);
    // Charges in flight on the killed instance were retried on the other one, not left for settlement.
    expect(pendingAnswers).toBeLessThanOrEqual(2);
    expect(before).toBeGreaterThan(0);
    expect(later).toBe(0);
    expect(survivor).toBeGreaterThan(0);
    expect(mesh.xds.nacks).toEqual([]);
    expectAllHold(invariants);
  }, 120_000);

  it('one of two PaymentService instances failing every call (its database cut): outlier detection ejects it', async () => {
    const { secondPayment } = mesh;
    let cutAt = 0;
    let result: TrafficResult;
    try {
      // mesh/ checks for outliers every 10 s, at a moment of its own: the run outlasts the second
      // check after the cut (the first may come too soon after it to have seen enough calls).
      result = await traffic.run(RATE, 20_000, async () => {
        await sleep(2_000);
        cutAt = Date.now();
        await mesh.secondPaymentDatabase.cut();
      });
    } finally {
      await mesh.secondPaymentDatabase.restore();
    }
    const endedAt = Date.now();
    await waitForSettlement(e2e, result.accepted);
    const invariants = await checkInvariants(e2e, traffic.accepted);
    const trace = orderTrace(e2e);
    // Only the cut instance fails, so the ejected endpoint is the one with failures.
    const ejection = ejections(trace, cutAt, endedAt).find((e) => e.failures > e.successes);
    const ejectedAt = ejection?.at ?? endedAt;
    const beforeEjection = picksOf(trace, secondPayment, cutAt, ejectedAt);
    const afterEjection = picksOf(trace, secondPayment, ejectedAt, endedAt);
    const survivorAfter = picksOf(trace, e2e.platform.address('payment'), ejectedAt, endedAt);
    rows.push(
      row(
        'payment 1 of 2 failing (its DB cut)',
        result,
        invariants,
        ejection
          ? `ejected ${((ejectedAt - cutAt) / 1000).toFixed(1)} s after the cut (${ejection.failures} failed, ${ejection.successes} ok in the interval); ` +
              `calls to it after: ${afterEjection} (survivor: ${survivorAfter})`
          : `NOT ejected; ${beforeEjection} calls to it after the cut`,
      ),
    );

    expect(failureCount(result)).toBe(0);
    expect(ejection).toBeDefined();
    expect(afterEjection).toBe(0);
    expect(survivorAfter).toBeGreaterThan(0);
    expect(mesh.xds.nacks).toEqual([]);
    expectAllHold(invariants);
  }, 120_000);

  it('PaymentService slowed by a VirtualService fault delay: the mesh timeout bounds the latency and the fallback answers PENDING_PAYMENT', async () => {
    const delayMs = 5_000;
    const meshTimeoutMs = 2_500; // mesh/virtual-services.yaml, payment
    const appTimeoutMs = Number(mesh.orderEnv.PAYMENT_TIMEOUT_MS);
    mesh.xds.applyOverrides({ payment: { fault: { delay: { fixedDelay: `${delayMs / 1000}s` } } } });
    let result: TrafficResult;
    try {
      await mesh.xds.settled(); // every client has the new policy before the first call
      result = await traffic.run(RATE, 8_000);
    } finally {
      mesh.xds.applyOverrides({});
      await mesh.xds.settled();
    }
    const settledMs = await waitForSettlement(e2e, result.accepted);
    const invariants = await checkInvariants(e2e, traffic.accepted);
    const placeLatencies = result.outcomes.filter((o) => o.method === 'PlaceOrder').map((o) => o.latencyMs);
    const slowest = Math.max(...placeLatencies);
    rows.push(
      row(
        `payment delayed ${delayMs / 1000} s (fault)`,
        result,
        invariants,
        `slowest PlaceOrder ${(slowest / 1000).toFixed(1)} s (mesh timeout ${meshTimeoutMs / 1000} s); settled ${(settledMs / 1000).toFixed(1)} s after`,
      ),
    );

    expect(failureCount(result)).toBe(0);
    expect(result.pendingAnswers).toBe(result.accepted.length);
    expect(slowest).toBeGreaterThanOrEqual(meshTimeoutMs);
    // Bounded by the mesh's timeout, not by OrderService's own (longer) one.
    expect(slowest).toBeLessThan(appTimeoutMs);
    expect(mesh.xds.nacks).toEqual([]);
    expectAllHold(invariants);
  }, 120_000);

  it('OrderService over its http2MaxRequests: the excess is shed at once with UNAVAILABLE, not queued', async () => {
    const maxRequests = 4;
    const overloadRate = 20;
    // A second's delay on every charge holds each PlaceOrder in OrderService about that long, so at
    // 10 PlaceOrder a second about 10 are in flight: more than UserService's channel lets through.
    mesh.xds.applyOverrides({
      order: { http2MaxRequests: maxRequests },
      payment: { fault: { delay: { fixedDelay: '1s' } } },
    });
    let result: TrafficResult;
    try {
      await mesh.xds.settled();
      result = await traffic.run(overloadRate, 6_000);
    } finally {
      mesh.xds.applyOverrides({});
      await mesh.xds.settled();
    }
    await waitForSettlement(e2e, result.accepted);
    const invariants = await checkInvariants(e2e, traffic.accepted);
    const shed = result.outcomes.filter((o) => o.code === status.UNAVAILABLE);
    const slowestShedMs = Math.max(0, ...shed.map((o) => o.latencyMs));
    const served = result.outcomes.filter((o) => o.code === status.OK);
    const slowestServedMs = Math.max(0, ...served.map((o) => o.latencyMs));
    rows.push(
      row(
        `order over http2MaxRequests=${maxRequests} (${overloadRate}/s)`,
        result,
        invariants,
        `${shed.length} shed, the slowest in ${slowestShedMs.toFixed(0)} ms; ${served.length} served, the slowest in ${slowestServedMs.toFixed(0)} ms`,
      ),
    );

    expect(shed.length).toBeGreaterThan(0);
    // Shed means answered before any slow call could have finished: never waiting in a queue.
    expect(slowestShedMs).toBeLessThan(500);
    expect(result.outcomes.filter((o) => o.code !== status.OK && o.code !== status.UNAVAILABLE)).toEqual([]);
    expect(served.length).toBeGreaterThan(0);
    expect(mesh.xds.nacks).toEqual([]);
    expectAllHold(invariants);
  }, 120_000);

  it('PaymentService down for a while (both instances): orders are accepted as PENDING_PAYMENT and all settled once it is back', async () => {
    const result = await traffic.run(RATE, 12_000, async () => {
      await sleep(2_000);
      await Promise.all([
        e2e.platform.stopService('payment', 'SIGKILL'),
        e2e.platform.stopInstance('payment', SECOND_PAYMENT, 'SIGKILL'),
      ]);
      await sleep(5_000);
      await e2e.platform.startService('payment');
      await e2e.platform.startInstance('payment', SECOND_PAYMENT, mesh.secondPaymentOptions);
    });
    const settledMs = await waitForSettlement(e2e, result.accepted);
    const invariants = await checkInvariants(e2e, traffic.accepted);
    rows.push(
      row(
        'payment down 5 s (both instances)',
        result,
        invariants,
        `all ${result.accepted.length} settled ${(settledMs / 1000).toFixed(1)} s after the load`,
      ),
    );

    expect(failureCount(result)).toBe(0);
    expect(result.pendingAnswers).toBeGreaterThan(0);
    expectAllHold(invariants);
  }, 120_000);

  it('RabbitMQ cut and restored mid-load: no notification is lost or sent twice', async () => {
    let backlog = 0;
    let restoredAt = 0;
    const result = await traffic.run(RATE, 12_000, async () => {
      await sleep(3_000);
      await e2e.proxies.amqp.cut();
      await sleep(5_000);
      backlog = await unsentEvents();
      await e2e.proxies.amqp.restore();
      restoredAt = performance.now();
    });
    await waitForNotifications(e2e);
    const caughtUpS = (performance.now() - restoredAt) / 1000;
    const invariants = await checkInvariants(e2e, traffic.accepted);
    rows.push(
      row(
        'RabbitMQ cut 5 s',
        result,
        invariants,
        `${backlog} events waited in the outboxes; all notified ${caughtUpS.toFixed(1)} s after the restore`,
      ),
    );

    expect(failureCount(result)).toBe(0);
    // The cut really held events back, and they all came through.
    expect(backlog).toBeGreaterThan(0);
    expectAllHold(invariants);
  }, 120_000);

  it("PostgreSQL drops OrderService's connections: it recovers without a restart", async () => {
    const orderDatabase = `ordermesh_order${e2e.settings.databaseSuffix}`;
    const startsBefore = startsOf('order');
    const startedAt = Date.now();
    let terminated = 0;
    const result = await traffic.run(RATE, 12_000, async () => {
      for (const at of [3_000, 3_000]) {
        await sleep(at);
        // Only this suite's OrderService database: the server is shared.
        const killed = await query<{ terminated: boolean }>(
          'postgresql://postgres@127.0.0.1:5432/postgres',
          'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [orderDatabase],
        );
        terminated += killed.filter((r) => r.terminated).length;
      }
    });
    await waitUntilServing(e2e.platform.address('order'), 5_000);
    await waitForSettlement(e2e, result.accepted);
    const invariants = await checkInvariants(e2e, traffic.accepted);
    const lateFailures = failuresAfter(result, 8_000);
    const errors = unexpectedErrors('order', startedAt);
    rows.push(
      row(
        'PostgreSQL connections dropped',
        result,
        invariants,
        `${terminated} connections terminated in 2 rounds; ${lateFailures} failures in the last 4 s; restarts: ${startsOf('order') - startsBefore}` +
          (errors.length > 0 ? `; OrderService answered INTERNAL for: ${[...new Set(errors)].join(', ')}` : ''),
      ),
    );

    expect(terminated).toBeGreaterThan(0);
    // A dropped connection is answered UNAVAILABLE (kit isTransientDatabaseError), which the mesh retries:
    // never INTERNAL, and no caller sees it.
    expect(errors).toEqual([]);
    expect(failureCount(result)).toBe(0);
    expect(lateFailures).toBe(0);
    expect(startsOf('order')).toBe(startsBefore);
    expectAllHold(invariants);
  }, 120_000);
});
