import { describe, expect, test } from '@jest/globals';
import {
  allOverlayPolicies,
  authenticationViolations,
  authorizationViolations,
  collisionViolations,
  imageViolations,
  ingressViolations,
  meshCoverageViolations,
  namespaceViolations,
  retryViolations,
  routeBudgetMs,
  serviceDeploymentViolations,
  servicePortViolations,
  syncWaveViolations,
  timeoutViolations,
  workloadSecurityViolations,
} from './policies.js';
import { clone, environments, type K8sObject, named, ofKind, renderOverlay } from './render.js';

const prod = (): K8sObject[] => clone(renderOverlay('prod'));
const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = named(objects, kind, name);
  if (!o) throw new Error(`${kind}/${name} not rendered`);
  return o;
};

describe('policies hold for every overlay', () => {
  test.each(environments)('%s', (env) => {
    expect(allOverlayPolicies(renderOverlay(env), { requireHpa: env !== 'dev' })).toEqual([]);
  });

  test('dev runs without HPAs and staging/prod with them', () => {
    expect(ofKind(renderOverlay('dev'), 'HorizontalPodAutoscaler')).toHaveLength(0);
    expect(ofKind(renderOverlay('staging'), 'HorizontalPodAutoscaler')).toHaveLength(4);
    expect(ofKind(renderOverlay('prod'), 'HorizontalPodAutoscaler')).toHaveLength(4);
  });

  test('overlays really differ in replicas/HPA bounds, resources, image tags and LOG_LEVEL', () => {
    const summary = (env: string) => {
      const objects = renderOverlay(env);
      const d = find(objects, 'Deployment', 'order');
      const hpa = named(objects, 'HorizontalPodAutoscaler', 'order');
      const cfg = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('ordermesh-config'));
      return JSON.stringify([
        d.spec.replicas ?? [hpa?.spec.minReplicas, hpa?.spec.maxReplicas],
        d.spec.template.spec.containers[0].resources,
        d.spec.template.spec.containers[0].image,
        cfg?.data.LOG_LEVEL,
      ]);
    };
    const rows = environments.map(summary);
    expect(new Set(rows).size).toBe(environments.length);
  });

  test('no two overlays collide when they share one cluster', () => {
    expect(collisionViolations(Object.fromEntries(environments.map((e) => [e, renderOverlay(e)])))).toEqual([]);
  });

  test('staging and prod render no Secrets (created out of band); dev credentials are marked dev-only', () => {
    expect(ofKind(renderOverlay('staging'), 'Secret')).toHaveLength(0);
    expect(ofKind(renderOverlay('prod'), 'Secret')).toHaveLength(0);
    const entries = ofKind(renderOverlay('dev'), 'Secret').flatMap((s) =>
      Object.entries(s.data as Record<string, string>).map(([k, b64]) => [
        k,
        Buffer.from(b64.replace(/\s/g, ''), 'base64').toString('utf8'),
      ]),
    );
    // Passwords and URLs with credentials must say they are dev-only.
    const credentials = entries.filter(([k, v]) => /PASS/.test(k ?? '') || /:\/\/[^/@]+:[^/@]+@/.test(v ?? ''));
    expect(credentials.length).toBeGreaterThan(5);
    const undeclared = credentials.filter(([, v]) => !v?.includes('dev-only')).map(([k]) => k);
    expect(undeclared).toEqual([]);
  });
});

describe('each check catches a broken manifest', () => {
  test('workload hardening', () => {
    const objects = prod();
    const c = find(objects, 'Deployment', 'payment').spec.template.spec.containers[0];
    c.securityContext.readOnlyRootFilesystem = false;
    delete c.resources.requests.memory;
    expect(workloadSecurityViolations(objects)).toEqual([
      'Deployment/ordermesh/payment/payment: readOnlyRootFilesystem must be true',
      'Deployment/ordermesh/payment/payment: missing requests.memory',
    ]);
  });

  test('gRPC probes, PDB, HPA and shutdown budget', () => {
    const objects = prod().filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'order'));
    const order = find(objects, 'Deployment', 'order');
    order.spec.template.spec.containers[0].readinessProbe = { httpGet: { path: '/', port: 9464 } };
    order.spec.template.spec.terminationGracePeriodSeconds = 10;
    order.spec.replicas = 3;
    expect(serviceDeploymentViolations(objects, { requireHpa: true })).toEqual([
      'Deployment/ordermesh/order: readinessProbe must be a grpc probe on 50052',
      'Deployment/ordermesh/order: terminationGracePeriodSeconds must exceed preStop + SHUTDOWN_GRACE_MS',
      'Deployment/ordermesh/order: no PodDisruptionBudget selects it',
      'Deployment/ordermesh/order: sets spec.replicas although an HPA owns it',
    ]);
    const noHpa = prod().filter((o) => o.kind !== 'HorizontalPodAutoscaler');
    expect(serviceDeploymentViolations(noHpa, { requireHpa: true })).toHaveLength(4);
  });

  test('image tags', () => {
    const objects = prod();
    find(objects, 'Deployment', 'user').spec.template.spec.containers[0].image =
      'registry.example.com/ordermesh/user:latest';
    find(objects, 'Deployment', 'order').spec.template.spec.containers[0].image =
      'registry.example.com:5000/ordermesh/order';
    expect(imageViolations(objects)).toEqual([
      'Deployment/ordermesh/order/order: image registry.example.com:5000/ordermesh/order has no tag',
      'Deployment/ordermesh/user/user: image registry.example.com/ordermesh/user:latest uses :latest',
    ]);
  });

  test('Service port names', () => {
    const objects = prod();
    find(objects, 'Service', 'payment').spec.ports[0].name = 'payment';
    expect(servicePortViolations(objects)).toEqual([
      'Service/ordermesh/payment: port 50053 name "payment" has no Istio protocol prefix',
      'Service payment: needs port grpc-payment (50053)',
    ]);
  });

  test('namespaces and cross-overlay collisions', () => {
    const objects = prod();
    find(objects, 'Service', 'user').metadata.namespace = 'default';
    expect(namespaceViolations(objects)).toEqual(['Service/default/user: not in namespace ordermesh']);
    expect(collisionViolations({ prod: renderOverlay('prod'), prod2: renderOverlay('prod') }).length).toBeGreaterThan(
      40,
    );
  });

  test('sync waves and migrations', () => {
    const objects = prod();
    find(objects, 'Job', 'order-migrate').metadata.annotations = { 'argocd.argoproj.io/sync-wave': '1' };
    expect(syncWaveViolations(objects)).toEqual([
      'migrations must finish before the Deployments',
      'Job/ordermesh/order-migrate: must be an Argo CD hook',
      'Job/ordermesh/order-migrate: needs hook-delete-policy BeforeHookCreation (Jobs are immutable)',
    ]);
  });

  test('mesh coverage per service', () => {
    const objects = prod().filter((o) => !(o.kind === 'DestinationRule' && o.metadata.name === 'payment'));
    delete find(objects, 'DestinationRule', 'order').spec.trafficPolicy.outlierDetection.maxEjectionPercent;
    expect(meshCoverageViolations(objects)).toEqual([
      'DestinationRule/ordermesh/order: outlierDetection.maxEjectionPercent missing',
      'payment: no DestinationRule',
    ]);
  });

  test('retry conditions', () => {
    const objects = prod();
    find(objects, 'VirtualService', 'payment').spec.http[0].retries.retryOn = '5xx,unavailable';
    find(objects, 'VirtualService', 'user').spec.http[0].retries.retryOn = 'reset,unavailable';
    expect(retryViolations(objects)).toEqual([
      'VirtualService/ordermesh/payment#payment-grpc: retryOn "5xx" is not safe',
      'VirtualService/ordermesh/user#user-login: Login must not retry on "reset"',
    ]);
  });

  test('timeouts nest along the call graph', () => {
    expect(routeBudgetMs({ timeout: '10s', retries: { attempts: 2, perTryTimeout: '1s' } })).toBe(3500);
    expect(routeBudgetMs({ timeout: '2.5s', retries: { attempts: 2, perTryTimeout: '1s' } })).toBe(2500);
    const objects = prod();
    const payment = find(objects, 'VirtualService', 'payment').spec.http[0];
    payment.timeout = '4s';
    payment.retries.perTryTimeout = '2s';
    expect(timeoutViolations(objects)).toEqual([
      'VirtualService/ordermesh/payment#payment-grpc: timeout 4s must exceed attempts x perTryTimeout',
      'VirtualService/ordermesh/order#order-grpc: per-try 3000ms to order must exceed the payment worst case 4000ms',
      'order PAYMENT_TIMEOUT_MS=2500 must be >= payment timeout 4000ms and < order per-try 3000ms',
    ]);
  });

  test('authorization is exactly the call graph', () => {
    const objects = prod();
    const payment = find(objects, 'AuthorizationPolicy', 'payment');
    payment.spec.rules[0].from[0].source.principals = ['cluster.local/ns/ordermesh/sa/notification'];
    find(objects, 'AuthorizationPolicy', 'order').spec.rules[0].from[0].source.principals = [
      'cluster.local/ns/ordermesh-dev/sa/user',
    ];
    expect(authorizationViolations(objects)).toEqual([
      'AuthorizationPolicy/ordermesh/order: principal cluster.local/ns/ordermesh-dev/sa/user is not in namespace ordermesh',
      'edge user->order is not allowed',
      'edge user->payment is not allowed',
      'edge order->payment is not allowed',
      'edge notification->payment is allowed but not in the call graph',
    ]);
    const noDeny = prod().filter((o) => o.metadata.name !== 'allow-nothing');
    expect(authorizationViolations(noDeny)).toEqual(['namespace-wide allow-nothing AuthorizationPolicy missing']);
  });

  test('mTLS and JWT verification', () => {
    const objects = prod();
    find(objects, 'PeerAuthentication', 'default').spec.mtls.mode = 'PERMISSIVE';
    find(objects, 'RequestAuthentication', 'ordermesh-jwt').spec.jwtRules[0].jwksUri =
      'http://user.ordermesh-dev.svc.cluster.local:8081/.well-known/jwks.json';
    expect(authenticationViolations(objects)).toEqual([
      'PeerAuthentication/ordermesh/default: mtls.mode must be STRICT',
      'RequestAuthentication/ordermesh/ordermesh-jwt: jwksUri http://user.ordermesh-dev.svc.cluster.local:8081/.well-known/jwks.json does not point at user in ordermesh',
    ]);
  });

  test('ingress exposure', () => {
    const objects = prod();
    const vs = find(objects, 'VirtualService', 'ordermesh-public');
    vs.spec.http.push({
      name: 'order',
      match: [{ uri: { prefix: '/ordermesh.order.v1.OrderService/' } }],
      route: [{ destination: { host: 'order' } }],
    });
    expect(ingressViolations(objects)).toEqual([
      'VirtualService/ordermesh/ordermesh-public#order: exposes {"prefix":"/ordermesh.order.v1.OrderService/"} -> order',
    ]);
  });
});
