import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import {
  clone,
  environments,
  type K8sObject,
  kustomize,
  named,
  renderArgoCd,
  renderOverlay,
  repoRoot,
  schemaErrors,
  strictErrors,
} from './render.js';

describe('rendering', () => {
  test('there are exactly the dev, staging and prod overlays', () => {
    expect(environments).toEqual(['dev', 'prod', 'staging']);
  });

  test.each(environments)('overlay %s renders with kustomize', (env) => {
    const objects = renderOverlay(env);
    const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name);
    expect(deployments.sort()).toEqual(['notification', 'order', 'payment', 'user']);
  });
});

describe('schema validation (kubernetes-models)', () => {
  test.each(environments)('every object of overlay %s matches its schema', async (env) => {
    expect(await schemaErrors(renderOverlay(env))).toEqual([]);
  });

  test('argocd/ matches the Argo CD schemas', async () => {
    expect(await schemaErrors(renderArgoCd())).toEqual([]);
  });

  test('the proxyless-grpc component renders and validates on top of the prod overlay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ordermesh-proxyless-'));
    try {
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          `resources: [${relative(dir, join(repoRoot, 'kustomize/overlays/prod'))}]`,
          `components: [${relative(dir, join(repoRoot, 'kustomize/components/proxyless-grpc'))}]`,
          '',
        ].join('\n'),
      );
      const objects = kustomize(dir, ['--load-restrictor', 'LoadRestrictionsNone']);
      const user = named(objects, 'Deployment', 'user');
      expect(user?.spec.template.metadata.annotations['inject.istio.io/templates']).toBe('grpc-agent');
      const env = user?.spec.template.spec.containers[0].env as { name: string; value?: string }[];
      expect(env.find((e) => e.name === 'GRPC_XDS_BOOTSTRAP')?.value).toBe('/etc/istio/proxy/grpc-bootstrap.json');
      expect(env.find((e) => e.name === 'ORDER_SERVICE_ADDR')?.value).toMatch(/^xds:\/\/\/order\.ordermesh\.svc/);
      expect(await schemaErrors(objects)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('schema validation rejects a wrongly typed field and an unregistered kind', async () => {
    const vs = clone(named(renderOverlay('prod'), 'VirtualService', 'order')) as K8sObject;
    vs.spec.http[0].timeout = 7;
    const unknown: K8sObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    const errors = await schemaErrors([vs, unknown]);
    expect(errors).toEqual([
      expect.stringContaining('VirtualService/ordermesh/order: data/spec/http/0/timeout must be string'),
      expect.stringContaining('no schema registered for example.com/v1/Widget'),
    ]);
  });
});

describe('strict unknown-field pass (tsc excess property checks)', () => {
  test('every object of every overlay and argocd/ has only known fields', () => {
    const all = [...environments.flatMap((env) => renderOverlay(env)), ...renderArgoCd()];
    expect(strictErrors(all)).toEqual([]);
  });

  test('a misspelled field is rejected at any depth, for core and CRD kinds', () => {
    const prod = renderOverlay('prod');
    const vs = clone(named(prod, 'VirtualService', 'order')) as K8sObject;
    vs.spec.http[0].retires = vs.spec.http[0].retries; // typo
    delete vs.spec.http[0].retries;
    const deploy = clone(named(prod, 'Deployment', 'user')) as K8sObject;
    deploy.spec.template.spec.containers[0].readinesProbe = {}; // typo
    const errors = strictErrors([vs, deploy]);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^VirtualService\/ordermesh\/order: .*retires/);
    expect(errors[1]).toMatch(/^Deployment\/ordermesh\/user: .*readinesProbe/);
  });
});
