import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { metricsPort, ROOT, SERVICE_NAMES } from '@ordermesh/dev/platform';
import { call, DECLINED_CARD, type E2E, eventually, failure, startE2E } from '@ordermesh/testing';
import { alertRules, type Prometheus, startPrometheus } from './support/prometheus.ts';

/**
 * The platform's metrics, dashboards and alerts against a real Prometheus:
 * the four services as processes, scraped every second, with traffic driven
 * through the public API; then faults injected to see alerts turn true.
 */
const NAMESPACE = 'ordermesh-e2e';
const DASHBOARD_DIR = join(ROOT, 'kustomize/components/observability/dashboards');
let e2e: E2E;
let prometheus: Prometheus;

const mug = [{ sku: 'MUG-001', quantity: 1 }];
const value = (results: { value: [number, string] }[]) => results.map((r) => Number(r.value[1]));

async function driveTraffic() {
  const { users } = e2e;
  const alice = await e2e.signUp();
  for (let i = 0; i < 2; i++) await call(users.getProfile.bind(users), {}, alice.token);
  const paid = await call(
    users.placeOrder.bind(users),
    { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: alice.cardId },
    alice.token,
  );
  await call(users.getMyOrder.bind(users), { orderId: paid.order?.id ?? '' }, alice.token);
  const bob = await e2e.signUp(DECLINED_CARD);
  await call(
    users.placeOrder.bind(users),
    { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: bob.cardId },
    bob.token,
  );
  // A client error (NOT_FOUND), so the error panels have a series to show.
  await failure(call(users.getMyOrder.bind(users), { orderId: randomUUID() }, alice.token));
}

beforeAll(async () => {
  e2e = await startE2E('metrics', 23100);
  prometheus = await startPrometheus(
    SERVICE_NAMES.map((app) => ({ app, port: metricsPort(e2e.settings, app) })),
    NAMESPACE,
  );
  // Prometheus discovers its targets only after a few seconds, and rate() needs the counters to rise
  // between two scrapes: so first a warm-up call, then the traffic once the series are in.
  await call(e2e.users.listProducts.bind(e2e.users), {});
  await eventually(
    'the services scraped',
    async () => (await prometheus.query('rpc_server_call_duration_count{app="user"}')).length > 0,
    30_000,
  );
  await driveTraffic();
  // 13 user RPCs: the warm-up, two sign-ups (3 calls each), 2 profiles, 2 orders, 2 order views; 6 events.
  await eventually(
    'the traffic in Prometheus',
    async () =>
      (await prometheus.query('sum(messaging_client_consumed_messages_total) >= 6')).length > 0 &&
      (await prometheus.query('sum(rpc_server_call_duration_count{app="user"}) >= 13')).length > 0,
    30_000,
  );
  // Scraped every second: 3 s more gives every new series the two samples rate() needs.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  await e2e?.close();
});

describe('metrics scraped from the running services', () => {
  it('has every expected series, with sane values', async () => {
    const q = (expr: string) => prometheus.query(expr).then(value);
    expect(await q(`up{namespace="${NAMESPACE}"}`)).toEqual([1, 1, 1, 1]);
    // RPC: one histogram per method and status; _count equals the +Inf bucket.
    expect(
      await q(
        'sum(rpc_server_call_duration_count{rpc_method="ordermesh.user.v1.UserService/PlaceOrder", rpc_response_status_code="OK"})',
      ),
    ).toEqual([2]);
    expect(
      await q(
        'sum(rpc_server_call_duration_count{app="user", rpc_method="ordermesh.user.v1.UserService/GetMyOrder", rpc_response_status_code="NOT_FOUND"})',
      ),
    ).toEqual([1]);
    expect(await q('sum(rpc_server_call_duration_count) - sum(rpc_server_call_duration_bucket{le="+Inf"})')).toEqual([
      0,
    ]);
    // Business: orders by state, payment outcomes.
    // OrderService counts orders by state at most every 30 s.
    await eventually(
      'orders by state to show the paid and the failed order',
      async () =>
        (await q('max(ordermesh_orders{ordermesh_order_status=~"paid|payment_failed"}) == 1')).length === 1 &&
        (await q('min(ordermesh_orders{ordermesh_order_status=~"paid|payment_failed"}) == 1')).length === 1,
      40_000,
    );
    expect(await q('sum(ordermesh_payment_outcomes_total{ordermesh_payment_status="succeeded"})')).toEqual([1]);
    expect(await q('sum(ordermesh_payment_outcomes_total{ordermesh_payment_status="declined"})')).toEqual([1]);
    // Cache: the second GetProfile is a hit.
    expect(
      (
        await q('sum(ordermesh_cache_operations_total{ordermesh_cache_name="profile", ordermesh_cache_result="hit"})')
      )[0],
    ).toBeGreaterThanOrEqual(1);
    // Messaging: all published and confirmed, the outbox drained, everything consumed, nothing dead.
    const confirmed = await q('sum by (app) (messaging_client_sent_messages_total{error_type=""})');
    expect(confirmed.length).toBe(3);
    await eventually('the outboxes to drain', async () => (await q('max(ordermesh_outbox_events_pending)'))[0] === 0);
    expect(await q('max(ordermesh_outbox_oldest_pending_age)')).toEqual([0]);
    expect((await q('sum(messaging_client_consumed_messages_total)'))[0]).toBeGreaterThanOrEqual(6);
    expect(await q('ordermesh_messaging_consumer_connected')).toEqual([1]);
    expect(await q('ordermesh_messaging_dead_letter_depth')).toEqual([0]);
    // Pool and runtime.
    expect(await q('min(db_client_connection_max) > 0')).toHaveLength(1);
    expect(await q('count(sum by (app) (db_client_connection_count))')).toEqual([4]);
    const utilization = await q('nodejs_eventloop_utilization');
    expect(utilization).toHaveLength(4);
    for (const u of utilization) expect(u >= 0 && u <= 1).toBe(true);
    expect(await q('count(v8js_memory_heap_used > 1e6) > 0')).toHaveLength(1);
  });

  it('carries no high-cardinality labels: no ids, no emails', async () => {
    const series = await prometheus.query(`{namespace="${NAMESPACE}"}`);
    expect(series.length).toBeGreaterThan(100);
    const idLike = /[0-9a-f]{8}-[0-9a-f]{4}-|@|^\d{6,}$/i;
    // target_info is the one series per process describing it (instance id, command line): not a metric label.
    const offending = series
      .filter(({ metric }) => metric.__name__ !== 'target_info')
      .flatMap(({ metric }) =>
        Object.entries(metric)
          .filter(([label, text]) => /(^|_)(user|order|payment|event|message)_id$/.test(label) || idLike.test(text))
          .map(([label, text]) => `${metric.__name__}{${label}="${text}"}`),
      );
    expect(offending).toEqual([]);
  });
});

interface Panel {
  title: string;
  datasource?: { type: string };
  targets?: { expr: string }[];
}

function dashboards() {
  return readdirSync(DASHBOARD_DIR)
    .filter((file) => file.endsWith('.json'))
    .map(
      (file) =>
        JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as {
          uid: string;
          panels: Panel[];
          templating: { list: { name: string; query?: string }[] };
        },
    );
}

/** Grafana's variables as this Prometheus knows them: the e2e namespace, OrderService, a 1-minute rate window. */
const substitute = (expr: string) =>
  expr.replaceAll('$namespace', NAMESPACE).replaceAll('$app', 'order').replaceAll('$__rate_interval', '1m');

describe('dashboards and alerts against that Prometheus', () => {
  const panels = dashboards().flatMap((d) =>
    d.panels.filter((p) => p.datasource?.type === 'prometheus').map((p) => [`${d.uid}: ${p.title}`, p] as const),
  );

  it.each(panels)('panel "%s" evaluates and shows data', async (_, panel) => {
    expect(panel.targets?.length).toBeGreaterThan(0);
    for (const target of panel.targets ?? []) {
      const results = await prometheus.query(substitute(target.expr));
      expect({ expr: target.expr, series: results.length }).toEqual({ expr: target.expr, series: expect.any(Number) });
      if (results.length === 0) throw new Error(`no data for ${target.expr}`);
    }
  });

  it("finds the e2e namespace through the dashboards' namespace variable", async () => {
    for (const dashboard of dashboards()) {
      const variable = dashboard.templating.list.find((v) => v.name === 'namespace');
      const match = /^label_values\((.+), namespace\)$/.exec(variable?.query ?? '');
      expect(match).not.toBeNull();
      expect(await prometheus.labelValues('namespace', match?.[1] ?? '')).toContain(NAMESPACE);
    }
  });

  it('evaluates every alert expression without error, and none fires on the healthy platform', async () => {
    for (const rule of alertRules()) {
      expect({ alert: rule.alert, firing: await prometheus.query(rule.expr) }).toEqual({
        alert: rule.alert,
        firing: [],
      });
    }
    // The rule engine evaluated them too.
    await eventually('every rule evaluated', async () => {
      const rules = (await prometheus.rules()).groups.flatMap((g) => g.rules);
      return rules.length === alertRules().length && rules.every((r) => r.health === 'ok');
    });
  });
});

describe('faults turn the matching alert true', () => {
  const firing = async (alert: string) => {
    const rule = alertRules().find((r) => r.alert === alert);
    if (!rule) throw new Error(`no alert ${alert}`);
    return prometheus.query(rule.expr);
  };

  it('PaymentService down: OrdermeshServiceDown for payment', async () => {
    await e2e.platform.stopService('payment', 'SIGKILL');
    try {
      const result = await eventually('OrdermeshServiceDown to fire', async () => {
        const found = await firing('OrdermeshServiceDown');
        return found.length > 0 && found;
      });
      expect(result.map((r) => r.metric.app)).toEqual(['payment']);
    } finally {
      await e2e.platform.startService('payment');
    }
    await eventually('payment back up', async () => (await firing('OrdermeshServiceDown')).length === 0);
  });

  it('RabbitMQ down: OrdermeshConsumersGone and OrdermeshEventPublishFailing, the outbox holding the events', async () => {
    await e2e.proxies.amqp.cut();
    try {
      const gone = await eventually('OrdermeshConsumersGone to fire', async () => {
        const found = await firing('OrdermeshConsumersGone');
        return found.length > 0 && found;
      });
      expect(gone[0]?.metric.messaging_destination_name).toMatch(/^notification\.test\./);
      // An order during the outage: placed all the same, its events wait in the outbox.
      const carol = await e2e.signUp();
      await call(
        e2e.users.placeOrder.bind(e2e.users),
        { idempotencyKey: randomUUID(), lines: mug, paymentMethodId: carol.cardId },
        carol.token,
      );
      // Every service that wrote events (user.registered, order.placed, payment.succeeded) fails to publish.
      // rate() needs a second failed attempt after the first is scraped: the relays back off up to 10 s.
      await eventually(
        'OrdermeshEventPublishFailing to fire for user, order and payment',
        async () => {
          const apps = (await firing('OrdermeshEventPublishFailing')).map((r) => r.metric.app).sort();
          return apps.join() === 'order,payment,user';
        },
        40_000,
      );
      const backlog = value(await prometheus.query('max(ordermesh_outbox_events_pending)'));
      expect(backlog[0]).toBeGreaterThan(0);
    } finally {
      await e2e.proxies.amqp.restore();
    }
    await eventually(
      'the outboxes to drain after the broker is back',
      async () => value(await prometheus.query('max(ordermesh_outbox_events_pending)'))[0] === 0,
      20_000,
    );
    await eventually('the consumer back', async () => (await firing('OrdermeshConsumersGone')).length === 0, 20_000);
  });
});
