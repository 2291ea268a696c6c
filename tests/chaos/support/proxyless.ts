/**
 * Puts a running end-to-end platform on the mesh-enforced path: a local xDS
 * control plane serves mesh/ (tools/xds), a second PaymentService instance
 * joins the first as an endpoint, and UserService and OrderService are
 * restarted in proxyless mode, dialling `xds:///` targets, so retries,
 * timeouts, fault injection, circuit breaking and outlier detection come from
 * the mesh policy, enforced in their own gRPC channels.
 */
import { readFileSync } from 'node:fs';
import { databaseUrl, type InstanceOptions } from '@ordermesh/dev/platform';
import type { E2E } from '@ordermesh/testing';
import { TcpProxy } from '@ordermesh/testing';
import { startXdsControlPlane, type XdsControlPlane } from '../../../tools/xds/control-plane.ts';

/** The extra PaymentService instance, on a fixed port so that it can come back where it was. */
export const SECOND_PAYMENT = 'b';

/**
 * OrderService's channel traces: every pick of an endpoint (load_balancing_call)
 * and every ejection (outlier_detection) lands in its log with a timestamp.
 */
const TRACE_ENV = { GRPC_TRACE: 'load_balancing_call,outlier_detection', GRPC_VERBOSITY: 'DEBUG' };

export interface Proxyless {
  xds: XdsControlPlane;
  /** gRPC address of the second PaymentService instance. */
  secondPayment: string;
  /** How the second PaymentService instance is started, for restarts. */
  secondPaymentOptions: InstanceOptions;
  /** The second instance reaches PostgreSQL through this proxy: cutting it makes that instance alone fail. */
  secondPaymentDatabase: TcpProxy;
  /** OrderService's environment in proxyless mode, for restarts. */
  orderEnv: Record<string, string>;
  close(): Promise<void>;
}

export async function goProxyless(
  e2e: E2E,
  ports: { controlPlane: number; secondPayment: number },
): Promise<Proxyless> {
  const { platform } = e2e;
  const secondPaymentDatabase = new TcpProxy(5432);
  await secondPaymentDatabase.start();
  const proxied = { ...e2e.settings, postgresUrl: `postgresql://postgres@127.0.0.1:${secondPaymentDatabase.port}` };
  const secondPaymentOptions = {
    port: ports.secondPayment,
    env: { DATABASE_URL: databaseUrl(proxied, 'payment') },
  };
  const secondPayment = await platform.startInstance('payment', SECOND_PAYMENT, secondPaymentOptions);
  const xds = await startXdsControlPlane({
    port: ports.controlPlane,
    endpoints: {
      payment: [platform.address('payment'), secondPayment],
      order: [platform.address('order')],
    },
  });
  const bootstrap = xds.writeBootstrap(e2e.settings.stateDir);
  const orderEnv = {
    GRPC_XDS_BOOTSTRAP: bootstrap,
    PAYMENT_SERVICE_ADDR: xds.target('payment'),
    // Longer than the payment route's 2.5 s mesh timeout, so that the mesh's timeout is the one a slow
    // PaymentService runs into: the chaos suite checks the policy, not the service's own deadline.
    PAYMENT_TIMEOUT_MS: '4000',
    ...TRACE_ENV,
  };
  await platform.stopService('order');
  await platform.startService('order', orderEnv);
  await platform.stopService('user');
  await platform.startService('user', {
    GRPC_XDS_BOOTSTRAP: bootstrap,
    ORDER_SERVICE_ADDR: xds.target('order'),
    PAYMENT_SERVICE_ADDR: xds.target('payment'),
  });
  return {
    xds,
    secondPayment,
    secondPaymentOptions,
    secondPaymentDatabase,
    orderEnv,
    async close() {
      await xds.close();
      await secondPaymentDatabase.stop();
    },
  };
}

/** One line of a grpc-js trace: "D 2026-…Z | v1.14.7 123 | load_balancing_call | [7] Pick result: …". */
interface TraceLine {
  at: number;
  tracer: string;
  text: string;
}

/** OrderService's grpc-js trace lines, from its log file. */
export function orderTrace(e2e: E2E): TraceLine[] {
  const lines: TraceLine[] = [];
  for (const line of readFileSync(e2e.platform.logFile('order'), 'utf8').split('\n')) {
    const match = /^D (\S+) \| v\S+ \d+ \| (\w+) \| (.*)$/.exec(line);
    if (match) lines.push({ at: Date.parse(match[1] as string), tracer: match[2] as string, text: match[3] as string });
  }
  return lines;
}

/** Calls OrderService's channel sent to `address` (completed picks) within [from, to) (epoch ms). */
export function picksOf(trace: readonly TraceLine[], address: string, from = 0, to = Number.POSITIVE_INFINITY) {
  return trace.filter(
    (t) =>
      t.tracer === 'load_balancing_call' &&
      t.at >= from &&
      t.at < to &&
      t.text.includes('Pick result: COMPLETE') &&
      t.text.includes(` ${address} `),
  ).length;
}

/**
 * The ejections by OrderService's outlier detection within [from, to): when, and
 * the ejected endpoint's calls in the interval that decided it. grpc-js 1.14.7
 * traces the ejected address as "[object Object]", so the endpoint is known by
 * its "Candidate successes=… failures=…" line just before.
 */
export function ejections(trace: readonly TraceLine[], from = 0, to = Number.POSITIVE_INFINITY) {
  const found: { at: number; successes: number; failures: number }[] = [];
  let candidate = { successes: 0, failures: 0 };
  for (const t of trace) {
    if (t.tracer !== 'outlier_detection') continue;
    const stats = /^Candidate successes=(\d+) failures=(\d+)/.exec(t.text);
    if (stats) candidate = { successes: Number(stats[1]), failures: Number(stats[2]) };
    if (t.text.startsWith('Ejecting candidate') && t.at >= from && t.at < to) found.push({ at: t.at, ...candidate });
  }
  return found;
}
