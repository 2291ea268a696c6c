/**
 * Proxyless gRPC against the real services: UserService and OrderService dial
 * `xds:///` targets resolved by the local control plane (tools/xds), which
 * serves the policies of mesh/ with two PaymentService instances as endpoints.
 * Each test prints what it measured.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { metricsPort, waitUntilServing } from '@ordermesh/dev/platform';
import { OrderStatus } from '@ordermesh/proto/order';
import { call, type E2E, eventually, GOOD_CARD, startE2E, TcpProxy } from '@ordermesh/testing';
import { startXdsControlPlane, type XdsControlPlane } from '../../tools/xds/control-plane.ts';

// Ports 26000-26099: the platform on 26001-26014 (JWKS 26081), the control plane, and instance b of
// PaymentService on 26030 and up: each restart of b gets a new port, as a new pod gets a new IP, so that
// clients connect at once instead of waiting out the reconnect back-off of the old address.
const BASE_PORT = 26000;
const PAYMENT_B = { instance: 'b', firstPort: 26030, metricsPort: 26021 };
const CONTROL_PLANE_PORT = 26050;

const PAYMENT = 'ordermesh.payment.v1.PaymentService';

let e2e: E2E;
let xds: XdsControlPlane;
/** PaymentService instance b reaches PostgreSQL through this, so a test can make only b fail. */
let paymentBDatabase: TcpProxy;
let alice: Awaited<ReturnType<E2E['signUp']>>;
let paymentA: string;
let paymentB: string;

let paymentBStarts = 0;

/** (Re)starts instance b on a new port and makes it an endpoint again, next to instance a. */
async function startPaymentB(extraEnv: Record<string, string> = {}) {
  const url = new URL(e2e.databaseUrl('payment'));
  url.port = String(paymentBDatabase.port);
  paymentB = await e2e.platform.startInstance('payment', PAYMENT_B.instance, {
    port: PAYMENT_B.firstPort + paymentBStarts,
    env: { METRICS_PORT: String(PAYMENT_B.metricsPort), DATABASE_URL: url.toString(), ...extraEnv },
  });
  paymentBStarts += 1;
  xds?.setEndpoints('payment', [paymentA, paymentB]);
}

beforeAll(async () => {
  e2e = await startE2E('xds', BASE_PORT);
  paymentBDatabase = new TcpProxy(5432);
  await paymentBDatabase.start();
  paymentA = e2e.platform.address('payment');
  PORTS.a = metricsPort(e2e.settings, 'payment');
  await startPaymentB();
  xds = await startXdsControlPlane({
    port: CONTROL_PLANE_PORT,
    endpoints: { payment: [paymentA, paymentB], order: [e2e.platform.address('order')] },
  });
  const bootstrap = xds.writeBootstrap(e2e.settings.stateDir);
  const proxyless = { GRPC_XDS_BOOTSTRAP: bootstrap, PAYMENT_SERVICE_ADDR: xds.target('payment') };
  await e2e.platform.stopService('order');
  await e2e.platform.startService('order', proxyless);
  await e2e.platform.stopService('user');
  await e2e.platform.startService('user', {
    ...proxyless,
    ORDER_SERVICE_ADDR: xds.target('order'),
    // Ejections show up in UserService's log (grpc-js traces go to stderr).
    GRPC_TRACE: 'outlier_detection',
    GRPC_VERBOSITY: 'DEBUG',
  });
  alice = await e2e.signUp();
}, 180_000);

afterAll(async () => {
  await e2e?.close();
  await xds?.close();
  await paymentBDatabase?.stop();
});

/** Calls of `method` a PaymentService process has answered (with `code`, or any), from its Prometheus endpoint. */
async function answered(port: number, method: string, code?: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('rpc_server_call_duration_count{')) continue;
    if (!line.includes(`rpc_method="${PAYMENT}/${method}"`)) continue;
    if (code && !line.includes(`rpc_response_status_code="${code}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Metrics ports of PaymentService instances a (the platform's default instance) and b. */
const PORTS = { a: 0, b: PAYMENT_B.metricsPort };

async function answeredByEach(method: string, code?: string) {
  return { a: await answered(PORTS.a, method, code), b: await answered(PORTS.b, method, code) };
}

const listPaymentMethods = () => call(e2e.users.listPaymentMethods.bind(e2e.users), {}, alice.token);

/** Resolves once UserService's channel sends calls to instance b again (after a restart, reconnection backs off). */
async function untilBothServe() {
  await eventually(
    'UserService to reach both PaymentService instances',
    async () => {
      const before = await answeredByEach('ListPaymentMethods');
      for (let i = 0; i < 4; i += 1) await listPaymentMethods();
      const after = await answeredByEach('ListPaymentMethods');
      return after.a > before.a && after.b > before.b;
    },
    30_000,
  );
}

describe('proxyless gRPC with the local xDS control plane', () => {
  it('spreads UserService and OrderService calls over both PaymentService instances', async () => {
    const calls = 40;
    const before = await answeredByEach('ListPaymentMethods');
    for (let i = 0; i < calls; i += 1) await listPaymentMethods();
    const after = await answeredByEach('ListPaymentMethods');
    const spread = { a: after.a - before.a, b: after.b - before.b };

    const orders = 6;
    const chargesBefore = await answeredByEach('Charge');
    for (let i = 0; i < orders; i += 1) {
      const placed = await call(
        e2e.users.placeOrder.bind(e2e.users),
        { idempotencyKey: randomUUID(), lines: [{ sku: 'MUG-001', quantity: 1 }], paymentMethodId: alice.cardId },
        alice.token,
      );
      expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);
    }
    const chargesAfter = await answeredByEach('Charge');
    const charges = { a: chargesAfter.a - chargesBefore.a, b: chargesAfter.b - chargesBefore.b };
    console.log(
      `[xds] spread: ${calls} ListPaymentMethods via UserService -> a=${spread.a} b=${spread.b}; ` +
        `${orders} orders, Charge via OrderService -> a=${charges.a} b=${charges.b}`,
    );

    // Round robin over the EDS endpoints; pick_first (the silent fallback of a bad config) would send all to one.
    expect(spread.a + spread.b).toBe(calls);
    expect(Math.min(spread.a, spread.b)).toBeGreaterThanOrEqual(calls / 4);
    expect(charges.a + charges.b).toBe(orders);
    expect(Math.min(charges.a, charges.b)).toBeGreaterThanOrEqual(1);
    expect(xds.nacks).toEqual([]);
  }, 60_000);

  /**
   * Instance b takes 2 s over every AddPaymentMethod (simulated provider
   * latency) and is killed while it holds some: its calls fail with
   * UNAVAILABLE. With mesh/'s retry policy (attempts 2, retryOn unavailable)
   * UserService's channel re-sends them to instance a; with the policy
   * removed the same failures reach the client. Returns what happened.
   */
  async function killWhileBusy() {
    await e2e.platform.stopInstance('payment', PAYMENT_B.instance);
    await startPaymentB({ PAYMENT_SIM_LATENCY_MS: '2000' });
    await untilBothServe();
    const sent = 10;
    const before = await answeredByEach('AddPaymentMethod', 'OK');
    const results = Array.from({ length: sent }, () =>
      call(
        e2e.users.addPaymentMethod.bind(e2e.users),
        { idempotencyKey: randomUUID(), cardNumber: GOOD_CARD, expMonth: 12, expYear: 2031, holderName: 'Alice' },
        alice.token,
      ).then(
        () => 'OK',
        (error: ServiceError) => status[error.code] ?? String(error.code),
      ),
    );
    // Instance a answers within ~100 ms; by then b holds its share, sleeping for 2 s.
    await eventually(
      'instance a to answer its share',
      async () => (await answered(PORTS.a, 'AddPaymentMethod', 'OK')) > before.a,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answeredByB = (await answered(PORTS.b, 'AddPaymentMethod')) - before.b;
    await e2e.platform.stopInstance('payment', PAYMENT_B.instance, 'SIGKILL');
    const outcomes = await Promise.all(results);
    const failed = outcomes.filter((outcome) => outcome !== 'OK');
    const servedByA = (await answered(PORTS.a, 'AddPaymentMethod', 'OK')) - before.a;
    return { sent, failed, servedByA, answeredByBBeforeKill: answeredByB };
  }

  it('retries a call that failed with UNAVAILABLE on the other instance, as mesh/ says', async () => {
    xds.applyOverrides({ payment: { retries: null } });
    const withoutRetries = await killWhileBusy();
    xds.applyOverrides({});
    const withMeshRetries = await killWhileBusy();
    console.log(
      `[xds] retry: b killed holding calls; without retries ${withoutRetries.failed.length}/${withoutRetries.sent} failed ` +
        `(${[...new Set(withoutRetries.failed)].join(',')}), a served ${withoutRetries.servedByA}; ` +
        `with mesh/ retries ${withMeshRetries.failed.length}/${withMeshRetries.sent} failed, a served ${withMeshRetries.servedByA}`,
    );

    // Without retries, b's share is lost with UNAVAILABLE ...
    expect(withoutRetries.failed.length).toBeGreaterThanOrEqual(1);
    expect(new Set(withoutRetries.failed)).toEqual(new Set(['UNAVAILABLE']));
    expect(withoutRetries.servedByA).toBe(withoutRetries.sent - withoutRetries.failed.length);
    // ... with mesh/'s policy every call succeeds, all of them answered by a, b's share on a second attempt.
    expect(withMeshRetries.failed).toEqual([]);
    expect(withMeshRetries.servedByA).toBe(withMeshRetries.sent);
    expect(withMeshRetries.answeredByBBeforeKill).toBe(0);
    expect(xds.nacks).toEqual([]);
  }, 120_000);

  it('ejects an instance that keeps failing (outlier detection as failure-percentage ejection)', async () => {
    await e2e.platform.stopInstance('payment', PAYMENT_B.instance);
    await startPaymentB();
    await untilBothServe();
    // b stays up and healthy but every call it takes fails (INTERNAL, not retryable): its database is gone.
    await paymentBDatabase.cut();
    // grpc-js 1.14.7 prints the endpoint as [object Object]; b is the only instance with failures to eject.
    const ejectedLine = 'Ejecting candidate';
    const ejectionsBefore = countOccurrences(readFileSync(e2e.platform.logFile('user'), 'utf8'), ejectedLine);
    const started = Date.now();
    const outcomes: { at: number; ok: boolean }[] = [];
    let ejectedAt: number | undefined;
    let bAtEjection = 0;
    // mesh/: interval 10s, so the ejection comes within one or two intervals. Keep calling until then, then 4 s more.
    while (Date.now() - started < 45_000 && (ejectedAt === undefined || Date.now() - ejectedAt < 4_000)) {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          const ok = await listPaymentMethods().then(
            () => true,
            () => false,
          );
          outcomes.push({ at: Date.now(), ok });
        }),
      );
      if (ejectedAt === undefined) {
        const log = readFileSync(e2e.platform.logFile('user'), 'utf8');
        if (countOccurrences(log, ejectedLine) > ejectionsBefore) {
          ejectedAt = Date.now();
          bAtEjection = await answered(PORTS.b, 'ListPaymentMethods');
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const bAtEnd = await answered(PORTS.b, 'ListPaymentMethods');
    // b is still serving health checks: it was ejected by the client, not lost as an endpoint.
    await waitUntilServing(paymentB, 5_000);
    await paymentBDatabase.restore();

    const before = outcomes.filter((o) => ejectedAt === undefined || o.at <= ejectedAt);
    const after = outcomes.filter((o) => ejectedAt !== undefined && o.at > ejectedAt);
    const failed = (list: typeof outcomes) => list.filter((o) => !o.ok).length;
    console.log(
      `[xds] ejection: b failing from t=0; ejected at t=${ejectedAt === undefined ? 'never' : `${ejectedAt - started} ms`}; ` +
        `before: ${failed(before)}/${before.length} calls failed; after: ${failed(after)}/${after.length} failed, ` +
        `b answered ${bAtEnd - bAtEjection} calls after its ejection`,
    );

    expect(ejectedAt).toBeDefined();
    expect(failed(before)).toBeGreaterThanOrEqual(1);
    expect(after.length).toBeGreaterThanOrEqual(20);
    expect(failed(after)).toBe(0);
    expect(bAtEnd - bAtEjection).toBe(0);
    expect(xds.nacks).toEqual([]);
  }, 120_000);
});

function countOccurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
