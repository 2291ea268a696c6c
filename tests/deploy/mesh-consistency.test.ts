// `npm run mesh:check` on the real tree (it must pass) and on broken copies: every rule must fire,
// naming the service, the method and the numbers.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import {
  authorizationViolations,
  backoffWorstMs,
  budgetViolations,
  coverageViolations,
  idempotencyViolations,
  type MeshModel,
  meshViolations,
  retryViolations,
  routeBudget,
  stackingViolations,
} from '../../tools/mesh-check/checks.ts';
import { runMeshCheck } from '../../tools/mesh-check/main.ts';
import { type K8sObject, named } from '../../tools/mesh-check/manifests.ts';
import { loadTree } from '../../tools/mesh-check/tree.ts';
import { readSources, type SourceFile, scanCode } from './code-scan.ts';
import { repoRoot } from './render.js';

const real = loadTree(repoRoot, ['prod'])[0]?.model as MeshModel;
const prod = (): MeshModel => structuredClone(real);
const find = (model: MeshModel, kind: string, name: string): K8sObject => {
  const o = named(model.objects, kind, name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};
const sources = readSources(repoRoot);
/** The real sources with one file changed, scanned again. */
const withSource = (model: MeshModel, path: string, change: (text: string) => string): MeshModel => {
  const files: SourceFile[] = sources.map((f) => (f.path === path ? { path, text: change(f.text) } : f));
  if (!sources.some((f) => f.path === path)) throw new Error(`${path} not found`);
  return { ...model, code: scanCode(files, model.contracts) };
};
const lineOf = (text: string, needle: string): number => text.slice(0, text.indexOf(needle)).split('\n').length;

describe('the real tree', () => {
  test.each(['dev', 'staging', 'prod'])('%s overlay is consistent', (env) => {
    const model = loadTree(repoRoot, [env])[0]?.model as MeshModel;
    expect(meshViolations(model)).toEqual([]);
  });

  test('the call graph comes from the code', () => {
    const calls = [...new Set(real.code.calls.map((c) => `${c.caller}->${c.callee}.${c.method}`))].sort();
    expect(calls).toEqual([
      'order->payment.Charge',
      'order->payment.Refund',
      'user->order.CancelOrder',
      'user->order.CreateOrder',
      'user->order.GetOrder',
      'user->order.ListOrders',
      'user->order.ListProducts',
      'user->payment.AddPaymentMethod',
      'user->payment.GetPayment',
      'user->payment.ListPaymentMethods',
    ]);
    expect(real.code.clients.map((c) => `${c.caller}->${c.callee}`).sort()).toEqual([
      'order->payment',
      'user->order',
      'user->payment',
    ]);
  });

  test('npm run mesh:check passes and prints the budgets and what is retried', () => {
    const run = spawnSync(
      process.execPath,
      ['--experimental-strip-types', '--no-warnings', 'tools/mesh-check/main.ts'],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('mesh:check OK: 3 overlay(s)');
    expect(run.stdout).toMatch(
      /order -> payment +Charge Refund +PAYMENT_TIMEOUT_MS=2500ms +2500ms = min\(timeout 2500ms, 3 tries x 1000ms \+ 100ms back-off\) +3000ms/,
    );
    expect(run.stdout).toMatch(
      /user#user-login +1 on connect-failure,refused-stream +only retried when never sent: Login/,
    );
  });
});

describe('Envoy back-off and worst cases', () => {
  test('back-off before retry k is at most min((2^k - 1) x base, 10 x base)', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffWorstMs(n))).toEqual([0, 25, 100, 275, 525, 775]);
    expect(backoffWorstMs(2, 100)).toBe(400);
  });

  test('worst case = min(timeout, tries x perTry + back-off); Istio attempts are retries', () => {
    expect(routeBudget({ timeout: '10s', retries: { attempts: 2, perTryTimeout: '1s' } }).worstMs).toBe(3100);
    expect(routeBudget({ timeout: '2.5s', retries: { attempts: 2, perTryTimeout: '1s' } }).worstMs).toBe(2500);
    expect(
      routeBudget({ timeout: '10s', retries: { attempts: 2, perTryTimeout: '1s', backoff: '100ms' } }).worstMs,
    ).toBe(3400);
    expect(routeBudget({ timeout: '4s', retries: { attempts: 0 } }).worstMs).toBe(4000);
  });
});

describe('each rule fails on a broken copy', () => {
  test("a caller's app deadline shorter than the callee's worst case", () => {
    const model = prod();
    const env = find(model, 'Deployment', 'order').spec.template.spec.containers[0].env;
    env.find((e: { name: string }) => e.name === 'PAYMENT_TIMEOUT_MS').value = '2000';
    const worst =
      'min(timeout 2500ms, 3 tries x 1000ms + 100ms back-off) (VirtualService/ordermesh/payment#payment-grpc)';
    expect(budgetViolations(model)).toEqual([
      `order -> payment Charge: PAYMENT_TIMEOUT_MS=2000ms (Deployment/ordermesh/order env) is shorter than payment's worst case 2500ms = ${worst}`,
      `order -> payment Refund: PAYMENT_TIMEOUT_MS=2000ms (Deployment/ordermesh/order env) is shorter than payment's worst case 2500ms = ${worst}`,
    ]);
  });

  test('the back-off alone can make the budget too short', () => {
    const model = prod();
    // 3 tries x 1s = 3s would fit in order's 3.1s, the 100ms of back-off does not.
    find(model, 'VirtualService', 'payment').spec.http[0].timeout = '5s';
    const order = find(model, 'VirtualService', 'order').spec.http[0];
    Object.assign(order, { retries: { ...order.retries, attempts: 1, perTryTimeout: '3.5s' } });
    const env = find(model, 'Deployment', 'order').spec.template.spec.containers[0].env;
    env.find((e: { name: string }) => e.name === 'PAYMENT_TIMEOUT_MS').value = '3050';
    expect(budgetViolations(model)).toEqual([
      "order -> payment Charge: PAYMENT_TIMEOUT_MS=3050ms (Deployment/ordermesh/order env) is shorter than payment's worst case 3100ms = min(timeout 5000ms, 3 tries x 1000ms + 100ms back-off) (VirtualService/ordermesh/payment#payment-grpc)",
      "order -> payment Refund: PAYMENT_TIMEOUT_MS=3050ms (Deployment/ordermesh/order env) is shorter than payment's worst case 3100ms = min(timeout 5000ms, 3 tries x 1000ms + 100ms back-off) (VirtualService/ordermesh/payment#payment-grpc)",
    ]);
  });

  test('app deadlines come from the Deployment, the ConfigMap or the code default', () => {
    const fromConfigMap = prod();
    const cm = fromConfigMap.objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('ordermesh-config'),
    );
    if (!cm) throw new Error('ordermesh-config not rendered');
    cm.data.DOWNSTREAM_TIMEOUT_MS = '6000';
    expect(budgetViolations(fromConfigMap).filter((v) => v.startsWith('user -> order CreateOrder'))).toEqual([
      `user -> order CreateOrder: DOWNSTREAM_TIMEOUT_MS=6000ms (ConfigMap/ordermesh/${cm.metadata.name}) is shorter than order's worst case 7000ms = min(timeout 7000ms, 3 tries x 3000ms + 100ms back-off) (VirtualService/ordermesh/order#order-grpc)`,
    ]);
    const fromCode = withSource(prod(), 'services/user/src/config.ts', (t) =>
      t.replace('DOWNSTREAM_TIMEOUT_MS: env.milliseconds(8_000)', 'DOWNSTREAM_TIMEOUT_MS: env.milliseconds(6_500)'),
    );
    expect(budgetViolations(fromCode).filter((v) => v.startsWith('user -> order GetOrder'))).toEqual([
      "user -> order GetOrder: DOWNSTREAM_TIMEOUT_MS=6500ms (services/user/src/config.ts default) is shorter than order's worst case 7000ms = min(timeout 7000ms, 3 tries x 3000ms + 100ms back-off) (VirtualService/ordermesh/order#order-grpc)",
    ]);
  });

  test("a caller's VirtualService try shorter than what it waits for downstream", () => {
    const model = prod();
    find(model, 'VirtualService', 'order').spec.http[0].retries.perTryTimeout = '2s';
    const v = budgetViolations(model);
    expect(v).toContain(
      "VirtualService/ordermesh/order#order-grpc: per-try 2000ms for order is not longer than payment's worst case 2500ms for Charge = min(timeout 2500ms, 3 tries x 1000ms + 100ms back-off)",
    );
    expect(v).toContain(
      'VirtualService/ordermesh/order#order-grpc: per-try 2000ms for order must exceed its PAYMENT_TIMEOUT_MS=2500ms, so order answers before its own try is cut',
    );
    const timeouts = prod();
    find(timeouts, 'VirtualService', 'payment').spec.http[0].timeout = '2s';
    expect(budgetViolations(timeouts)).toEqual([
      'VirtualService/ordermesh/payment#payment-grpc: timeout 2s must exceed attempts x perTryTimeout',
    ]);
  });

  test('a deadline setting that is missing, not a number or never read', () => {
    const missing = withSource(prod(), 'services/order/src/config.ts', (t) =>
      t.replace('PAYMENT_TIMEOUT_MS: env.milliseconds(2_500)', 'PAYMENT_WAIT_MS: env.milliseconds(2_500)'),
    );
    expect(budgetViolations(missing)).toEqual([
      'order -> payment: no deadline setting (PAYMENT_TIMEOUT_MS or DOWNSTREAM_TIMEOUT_MS) in services/order/src/config.ts',
    ]);
    const notANumber = prod();
    const env = find(notANumber, 'Deployment', 'order').spec.template.spec.containers[0].env;
    env.find((e: { name: string }) => e.name === 'PAYMENT_TIMEOUT_MS').value = '2.5s';
    expect(budgetViolations(notANumber)).toEqual([
      'order -> payment: PAYMENT_TIMEOUT_MS="2.5s" (Deployment/ordermesh/order env) is not a positive number of milliseconds',
    ]);
    const unread = withSource(prod(), 'services/order/src/app.ts', (t) =>
      t.replaceAll('config.PAYMENT_TIMEOUT_MS', '2_500'),
    );
    expect(budgetViolations(unread)).toEqual([
      'order -> payment: PAYMENT_TIMEOUT_MS is declared in services/order/src/config.ts but never read',
    ]);
  });

  test('retry stacking: a loop, a catch, a back-off or recursion around a downstream call', () => {
    const path = 'services/order/src/payment-gateway.ts';
    const extra = [
      'export async function chargeInLoop(client: PaymentServiceClient, request: never) {',
      '  for (let i = 0; i < 3; i++) await callUnary(client.charge.bind(client), request, { timeoutMs: 1 });',
      '}',
      'export async function refundAgain(client: PaymentServiceClient, request: never) {',
      '  try {',
      '    await callUnary(client.refund.bind(client), request, { timeoutMs: 1 });',
      '  } catch {',
      '    await callUnary(client.refund.bind(client), request, { timeoutMs: 1 });',
      '  }',
      '}',
      'export async function chargeLater(client: PaymentServiceClient, request: never) {',
      '  await sleep(100);',
      '  return client.charge(request, () => {});',
      '}',
      'export async function chargeUntilDone(client: PaymentServiceClient, request: never): Promise<void> {',
      '  client.charge(request, (error) => (error ? chargeUntilDone(client, request) : undefined));',
      '}',
    ].join('\n');
    let text = '';
    const model = withSource(prod(), path, (t) => {
      text = `${t}\n${extra}\n`;
      return text;
    });
    const at = (needle: string) => `${path}:${lineOf(text, needle)}`;
    const catchLine = lineOf(text, '  } catch {') + 1;
    expect(stackingViolations(model)).toEqual([
      `${at('for (let i')}: order calls callUnary inside a For loop: the mesh already retries it`,
      `${at('for (let i')}: order calls payment.Charge inside a For loop: the mesh already retries it`,
      `${path}:${catchLine}: order calls callUnary inside a catch block: the mesh already retries it`,
      `${path}:${catchLine}: order calls payment.Refund inside a catch block: the mesh already retries it`,
      `${at('return client.charge')}: order calls payment.Charge in a function that also waits (sleep): the mesh already retries it`,
      `${at('  client.charge(request, (error)')}: order calls payment.Charge in chargeUntilDone, which calls itself: the mesh already retries it`,
    ]);
  });

  test('retry stacking: a retry policy in the client channel or clients outside the kit', () => {
    const kit = 'services/kit/grpc/src/grpc-client.ts';
    const noDisable = withSource(prod(), kit, (t) =>
      t.replace(/\n *'grpc\.service_config_disable_resolution': 1,[^\n]*/, ''),
    );
    expect(stackingViolations(noDisable)).toEqual([
      expect.stringMatching(
        /^services\/kit\/grpc\/src\/grpc-client\.ts:\d+: clientOptions must set 'grpc\.service_config_disable_resolution': 1, or a DNS TXT record can add a retryPolicy on top of the mesh$/,
      ),
    ]);
    const serviceConfig = withSource(prod(), kit, (t) =>
      t.replace(
        "'grpc.keepalive_time_ms': 60_000,",
        `'grpc.keepalive_time_ms': 60_000,\n  'grpc.service_config': '{"methodConfig":[{"name":[{}],"retryPolicy":{"maxAttempts":3}}]}',`,
      ),
    );
    expect(stackingViolations(serviceConfig)).toEqual([
      expect.stringMatching(
        /grpc-client\.ts:\d+: sets grpc\.service_config: gRPC clients must not carry a retry policy/,
      ),
      expect.stringMatching(
        /grpc-client\.ts:\d+: a service config with a retry\/hedging policy: retries belong to the mesh$/,
      ),
    ]);
    const direct = withSource(prod(), 'services/order/src/payment-gateway.ts', (t) =>
      t.replace(
        /createClient\(PaymentServiceClient, ([^)]*\))?[^)]*\)/,
        'new PaymentServiceClient(target, credentials.createInsecure())',
      ),
    );
    expect(stackingViolations(direct)).toEqual([
      expect.stringMatching(
        /payment-gateway\.ts:\d+: PaymentServiceClient is constructed directly; use the kit's createClient/,
      ),
    ]);
  });

  test('a retried method that is neither idempotent nor keyed', () => {
    const model = prod();
    const charge = model.contracts.get('payment')?.methods.find((m) => m.name === 'Charge');
    if (!charge) throw new Error('Charge not in the descriptor set');
    Object.assign(charge, { idempotency: 'UNKNOWN', idempotencyKey: false });
    find(model, 'VirtualService', 'user').spec.http[0].retries.retryOn = 'connect-failure,refused-stream,unavailable';
    expect(idempotencyViolations(model)).toEqual([
      'VirtualService/ordermesh/payment#payment-grpc: retries ordermesh.payment.v1.PaymentService/Charge on reset,unavailable,cancelled,resource-exhausted, but it is neither IDEMPOTENT/NO_SIDE_EFFECTS (idempotency_level) nor has an idempotency_key field',
      'VirtualService/ordermesh/user#user-login: retries ordermesh.user.v1.UserService/Login on unavailable, but it is neither IDEMPOTENT/NO_SIDE_EFFECTS (idempotency_level) nor has an idempotency_key field',
    ]);
    // An idempotency key alone is enough.
    Object.assign(charge, { idempotencyKey: true });
    expect(idempotencyViolations(model)).toHaveLength(1);
  });

  test('a route that falls through to a retrying catch-all', () => {
    const model = prod();
    const user = find(model, 'VirtualService', 'user');
    user.spec.http = user.spec.http.filter((r: { name: string }) => r.name !== 'user-login');
    expect(idempotencyViolations(model)).toEqual([
      'VirtualService/ordermesh/user#user-grpc: retries ordermesh.user.v1.UserService/Login on reset,unavailable,cancelled,resource-exhausted, but it is neither IDEMPOTENT/NO_SIDE_EFFECTS (idempotency_level) nor has an idempotency_key field',
    ]);
  });

  test('unsafe or implicit retry settings', () => {
    const model = prod();
    find(model, 'VirtualService', 'payment').spec.http[0].retries.retryOn = '5xx,unavailable';
    delete find(model, 'VirtualService', 'notification').spec.http[0].retries;
    delete find(model, 'VirtualService', 'order').spec.http[0].retries.perTryTimeout;
    expect(retryViolations(model)).toEqual([
      "VirtualService/ordermesh/notification#notification-grpc: no retries block, so Istio's default applies (connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes); set it",
      'VirtualService/ordermesh/order#order-grpc: perTryTimeout missing, so one try may use the whole timeout',
      'VirtualService/ordermesh/payment#payment-grpc: retryOn "5xx" is not safe',
    ]);
  });

  test('a service without VirtualService, DestinationRule or AuthorizationPolicy', () => {
    const model = prod();
    model.objects = model.objects.filter(
      (o) =>
        !(o.kind === 'VirtualService' && o.metadata.name === 'order') &&
        !(o.kind === 'DestinationRule' && o.metadata.name === 'payment') &&
        !(o.kind === 'AuthorizationPolicy' && o.metadata.name === 'notification'),
    );
    find(model, 'PeerAuthentication', 'default').apiVersion = 'security.istio.io/v1beta1';
    delete find(model, 'DestinationRule', 'user').spec.trafficPolicy.connectionPool.http.http2MaxRequests;
    expect(coverageViolations(model)).toEqual([
      'notification: no AuthorizationPolicy selects it',
      'order: no in-mesh VirtualService',
      'payment: no DestinationRule',
      'DestinationRule/ordermesh/user: connectionPool.http.http2MaxRequests missing',
      'PeerAuthentication/ordermesh/default: apiVersion security.istio.io/v1beta1; use networking.istio.io/v1 or security.istio.io/v1',
    ]);
  });

  test('authorization per method is exactly what the code calls and the ingress exposes', () => {
    const model = prod();
    const rules = find(model, 'AuthorizationPolicy', 'payment').spec.rules;
    rules[0].from[0].source.principals.push('cluster.local/ns/ordermesh/sa/user');
    rules[1].to[0].operation.paths = rules[1].to[0].operation.paths.filter((p: string) => !p.endsWith('/GetPayment'));
    const getPayment = real.code.calls.find((c) => c.method === 'GetPayment')?.at;
    expect(authorizationViolations(model)).toEqual([
      `user -> payment GetPayment (called at ${getPayment}) is not allowed by any AuthorizationPolicy`,
      'AuthorizationPolicy/ordermesh/payment allows user -> payment Charge, which nothing calls or exposes (least privilege)',
      'AuthorizationPolicy/ordermesh/payment allows user -> payment Refund, which nothing calls or exposes (least privilege)',
    ]);
    const notification = prod();
    delete find(notification, 'AuthorizationPolicy', 'notification').spec.rules[0].from[0].source.requestPrincipals;
    find(notification, 'AuthorizationPolicy', 'order').spec.rules[0].from[0].source.principals = [
      'cluster.local/ns/ordermesh-dev/sa/user',
    ];
    const orderCalls = ['CreateOrder', 'GetOrder', 'ListOrders', 'CancelOrder', 'ListProducts'].map(
      (m) =>
        `user -> order ${m} (called at ${real.code.calls.find((c) => c.method === m)?.at}) is not allowed by any AuthorizationPolicy`,
    );
    expect(authorizationViolations(notification).sort()).toEqual(
      [
        'AuthorizationPolicy/ordermesh/order: principal cluster.local/ns/ordermesh-dev/sa/user is not in namespace ordermesh',
        'AuthorizationPolicy/ordermesh/notification: calls to notification must carry a verified JWT (requestPrincipals)',
        ...orderCalls,
      ].sort(),
    );
  });
});

describe('npm run mesh:check on a broken copy of the tree', () => {
  let copy = '';
  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'ordermesh-mesh-check-'));
    for (const dir of ['mesh', 'kustomize', 'proto/gen/descriptor-set.binpb']) {
      cpSync(join(repoRoot, dir), join(copy, dir), { recursive: true });
    }
    for (const f of sources) cpSync(join(repoRoot, f.path), join(copy, f.path));
  });
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  test('exits non-zero naming the service, the method and the numbers', () => {
    const file = join(copy, 'mesh/virtual-services.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('timeout: 2.5s', 'timeout: 3.5s'));
    const run = spawnSync(
      process.execPath,
      ['--experimental-strip-types', '--no-warnings', join(repoRoot, 'tools/mesh-check/main.ts'), '--root', copy],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('mesh:check FAILED');
    expect(run.stderr).toContain(
      "[dev, prod, staging] order -> payment Charge: PAYMENT_TIMEOUT_MS=2500ms (Deployment/<ns>/order env) is shorter than payment's worst case 3100ms = min(timeout 3500ms, 3 tries x 1000ms + 100ms back-off)",
    );
    expect(run.stderr).toContain(
      "[dev, prod, staging] VirtualService/<ns>/order#order-grpc: per-try 3000ms for order is not longer than payment's worst case 3100ms for Refund",
    );
    const inProcess = runMeshCheck(copy, ['prod']);
    expect(inProcess.ok).toBe(false);
    expect(inProcess.output).toContain('[prod] order -> payment Refund: PAYMENT_TIMEOUT_MS=2500ms');
  });
});
