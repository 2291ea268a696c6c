import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OrderStatus } from '@ordermesh/proto/order';
import { call, type E2E, eventually, startE2E } from '@ordermesh/testing';
import { type ReceivedSpan, SpanKind, startOtlpReceiver } from './support/otlp-receiver.ts';

/**
 * One PlaceOrder, four processes, one trace: the services export their spans
 * over OTLP/HTTP to a receiver in this test, which then checks every edge of
 * the trace, the asynchronous RabbitMQ hop included.
 */
let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
let e2e: E2E;
const savedEnv = { ...process.env };

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // The platform passes OTEL_* variables through to every service process.
  Object.assign(process.env, receiver.exportingEnv);
  e2e = await startE2E('traces', 23050);
}, 120_000);

afterAll(async () => {
  await e2e?.close();
  await receiver?.close();
  process.env = savedEnv;
});

/** The span of `trace` matching `test`; fails listing the whole trace, so a broken edge is easy to see. */
function the(trace: ReceivedSpan[], what: string, test: (span: ReceivedSpan) => boolean): ReceivedSpan {
  const found = trace.filter(test);
  if (found.length !== 1) {
    const listing = trace.map((s) => `  ${s.service} ${s.kind} ${s.name} ${s.spanId} <- ${s.parentSpanId}`).join('\n');
    throw new Error(`expected one span for ${what}, found ${found.length} in:\n${listing}`);
  }
  return found[0] as ReceivedSpan;
}

/** One gRPC hop of `trace`: the caller's CLIENT span for `method` ("Service/Method") and the callee's SERVER span under it. */
function hop(trace: ReceivedSpan[], caller: string, callee: string, method: string) {
  const client = the(
    trace,
    `${caller} calls ${method}`,
    (s) => s.service === caller && s.kind === SpanKind.CLIENT && s.name.endsWith(method),
  );
  const server = the(
    trace,
    `${callee} serves ${method}`,
    (s) => s.service === callee && s.kind === SpanKind.SERVER && s.name.endsWith(method),
  );
  expect(server.parentSpanId).toBe(client.spanId);
  return { client, server };
}

/** True when `ancestor` is `span`'s parent, or its parent's parent, and so on. */
function descendsFrom(trace: ReceivedSpan[], span: ReceivedSpan, ancestor: ReceivedSpan): boolean {
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  for (let parent = byId.get(span.parentSpanId); parent; parent = byId.get(parent.parentSpanId)) {
    if (parent === ancestor) return true;
  }
  return false;
}

describe('one trace per request, across gRPC and RabbitMQ', () => {
  it('links PlaceOrder from UserService through payment, outbox and broker to the delivered email', async () => {
    const alice = await e2e.signUp();
    const placed = await call(
      e2e.users.placeOrder.bind(e2e.users),
      { idempotencyKey: randomUUID(), lines: [{ sku: 'MUG-001', quantity: 1 }], paymentMethodId: alice.cardId },
      alice.token,
    );
    expect(placed.order?.status).toBe(OrderStatus.ORDER_STATUS_PAID);

    const placeOrder = await eventually('the PlaceOrder server span', () =>
      receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('UserService/PlaceOrder')),
    );
    const inTrace = () => receiver.spans.filter((s) => s.traceId === placeOrder.traceId);
    // Two events come out of one order (order.placed, payment.succeeded). Each process exports on its own
    // schedule, and a relay's send span ends only at the broker's confirm, which can come after the consumer
    // has delivered: wait for both deliveries and both relay sends before reading the trace. NotificationService
    // may send too: order.placed can overtake alice's user.registered, and is then put back for a delayed retry.
    const count = (spans: ReceivedSpan[], test: (span: ReceivedSpan) => boolean) => spans.filter(test).length;
    const trace = await eventually(
      'both notification deliveries and both relay sends in the trace',
      () => {
        const spans = inTrace();
        const deliveries = count(spans, (s) => s.service === 'notification' && s.name === 'deliver email');
        const sends = count(
          spans,
          (s) => s.service !== 'notification' && s.attributes['messaging.operation.type'] === 'send',
        );
        return deliveries === 2 && sends === 2 && spans;
      },
      20_000,
    );

    // gRPC: user -> order -> payment, each hop a CLIENT span and the callee's SERVER span under it.
    const { client: createOrderClient, server: createOrder } = hop(trace, 'user', 'order', 'OrderService/CreateOrder');
    const { client: chargeClient, server: charge } = hop(trace, 'order', 'payment', 'PaymentService/Charge');
    expect(placeOrder.parentSpanId).toBe('');
    expect(createOrderClient.parentSpanId).toBe(placeOrder.spanId);
    expect(descendsFrom(trace, chargeClient, createOrder)).toBe(true);
    for (const span of [placeOrder, createOrderClient, createOrder, chargeClient, charge]) {
      expect(span.attributes).toMatchObject({ 'rpc.system': 'grpc' });
    }

    // The async hop, once per event: create (in the request) -> publish (outbox relay) -> process -> deliver.
    for (const [routingKey, producer, request] of [
      ['payment.succeeded', 'payment', charge],
      ['order.placed', 'order', createOrder],
    ] as const) {
      const created = the(trace, `${routingKey} written to the outbox`, (s) => s.name === `create ${routingKey}`);
      expect(created).toMatchObject({ service: producer, kind: SpanKind.PRODUCER });
      expect(descendsFrom(trace, created, request)).toBe(true);
      expect(created.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'create',
      });

      const published = the(trace, `${routingKey} published by the relay`, (s) => s.parentSpanId === created.spanId);
      expect(published).toMatchObject({ service: producer, kind: SpanKind.PRODUCER });
      expect(published.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.operation.type': 'send',
        'messaging.rabbitmq.destination.routing_key': routingKey,
      });

      const processed = the(trace, `${routingKey} consumed`, (s) => s.parentSpanId === published.spanId);
      expect(processed).toMatchObject({ service: 'notification', kind: SpanKind.CONSUMER });
      expect(processed.attributes).toMatchObject({ 'messaging.operation.type': 'process' });

      const delivered = the(
        trace,
        `${routingKey} delivered`,
        (s) => s.name === 'deliver email' && descendsFrom(trace, s, processed),
      );
      expect(delivered.kind).toBe(SpanKind.CLIENT);
    }

    // The database and cache calls of the request are in the trace too.
    expect(trace.some((s) => s.service === 'payment' && s.attributes['db.system.name'] === 'postgresql')).toBe(true);
  });

  it('keeps a passed-on answer in the trace: ListMyOrders, whose page UserService answers as bytes', async () => {
    const bob = await e2e.signUp();
    const listed = await call(e2e.users.listMyOrders.bind(e2e.users), { pageSize: 5, pageToken: '' }, bob.token);
    expect(listed.orders).toEqual([]);

    const listMyOrders = await eventually('the ListMyOrders server span', () =>
      receiver.spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('UserService/ListMyOrders')),
    );
    const trace = await eventually('the ListOrders server span in the same trace', () => {
      const spans = receiver.spans.filter((s) => s.traceId === listMyOrders.traceId);
      return spans.some((s) => s.service === 'order' && s.kind === SpanKind.SERVER) && spans;
    });
    const { client: listOrdersClient } = hop(trace, 'user', 'order', 'OrderService/ListOrders');
    expect(listOrdersClient.parentSpanId).toBe(listMyOrders.spanId);
    expect(listOrdersClient.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.grpc.status_code': 0 });
  });

  it('writes trace_id and span_id on the log lines written inside the trace', async () => {
    const delivered = receiver.spans.find((s) => s.service === 'notification' && s.name === 'deliver email');
    expect(delivered).toBeDefined();
    const lines = readFileSync(e2e.platform.logFile('notification'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const sent = lines.filter((line) => line.msg === 'notification sent' && line.trace_id === delivered?.traceId);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]?.span_id).toMatch(/^[0-9a-f]{16}$/);
    // Lines written outside any span carry no trace fields.
    expect(lines.find((line) => line.msg === 'gRPC server listening')).not.toHaveProperty('trace_id');
  });
});
