import { describe, expect, test } from '@jest/globals';
import { environments, type Json, type K8sObject, ofKind, renderArgoCd, renderOverlay } from './render.js';

const argo = renderArgoCd();
const project = ofKind(argo, 'AppProject')[0] as K8sObject;
const appSet = ofKind(argo, 'ApplicationSet')[0] as K8sObject;
const elements = (appSet?.spec.generators?.[0]?.list?.elements ?? []) as Json[];
const overlayNamespace = (env: string) => ofKind(renderOverlay(env), 'Namespace')[0]?.metadata.name;

describe('Argo CD', () => {
  test('one AppProject and one ApplicationSet in the argocd namespace', () => {
    expect(argo.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'AppProject/argocd/ordermesh',
      'ApplicationSet/argocd/ordermesh',
    ]);
  });

  test("the ApplicationSet generates exactly one Application per overlay, into the overlay's namespace", () => {
    expect(elements.map((e) => e.env).sort()).toEqual(environments);
    for (const e of elements) expect(`${e.env}:${e.namespace}`).toBe(`${e.env}:${overlayNamespace(e.env)}`);
    expect(appSet.spec.template.spec.source.path).toBe('kustomize/overlays/{{ .env }}');
    expect(appSet.spec.template.spec.project).toBe(project.metadata.name);
    expect(appSet.spec.goTemplate).toBe(true);
  });

  test('dev syncs automatically, staging and prod only by hand', () => {
    const auto = Object.fromEntries(elements.map((e) => [e.env, e.autoSync]));
    expect(auto).toEqual({ dev: true, staging: false, prod: false });
    expect(appSet.spec.template.spec.syncPolicy.automated).toBeUndefined();
    const patch = String(appSet.spec.templatePatch);
    expect(patch).toMatch(/\{\{-? if \.autoSync \}\}[\s\S]*automated:[\s\S]*prune: true[\s\S]*\{\{-? end \}\}/);
  });

  test('the AppProject allows exactly the source repo, the overlay namespaces and the rendered kinds', () => {
    expect(project.spec.sourceRepos).toEqual([appSet.spec.template.spec.source.repoURL]);
    const destinations = project.spec.destinations.map((d: Json) => `${d.server} ${d.namespace}`).sort();
    expect(destinations).toEqual(elements.map((e) => `${e.server} ${e.namespace}`).sort());
    const allowed = new Set(
      [...project.spec.namespaceResourceWhitelist, ...project.spec.clusterResourceWhitelist].map(
        (r: Json) => `${r.group}/${r.kind}`,
      ),
    );
    const rendered = new Set(
      environments
        .flatMap((env) => renderOverlay(env))
        .map((o) => `${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}/${o.kind}`),
    );
    expect([...rendered].filter((k) => !allowed.has(k))).toEqual([]);
    expect([...allowed].filter((k) => !rendered.has(k))).toEqual([]);
    expect(project.spec.clusterResourceWhitelist).toEqual([{ group: '', kind: 'Namespace' }]);
  });
});
