import { describe, expect, test } from '@jest/globals';
import {
  allOverlayPolicies,
  collisionViolations,
  imageViolations,
  namespaceViolations,
  serviceDeploymentViolations,
  servicePortViolations,
  syncWaveViolations,
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

// The mesh rules (retries, budgets, authorization, ...) are proven in mesh-consistency.test.ts.
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
});
