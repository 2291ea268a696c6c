// Shared helpers for the deployment validation tests: render kustomizations, load YAML, validate
// objects against kubernetes-models schemas, and a strict (unknown-field) pass through tsc.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { id, type K8sObject, kustomize } from '../../tools/mesh-check/manifests.ts';

// One loader for manifests, shared with `npm run mesh:check`.
export {
  durationMs,
  id,
  type Json,
  type K8sObject,
  kustomize,
  named,
  ofKind,
  parseYamlDocs,
} from '../../tools/mesh-check/manifests.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const overlaysDir = join(repoRoot, 'kustomize/overlays');
export const environments = readdirSync(overlaysDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** The four gRPC services and the contract they are deployed with. */
export const services = {
  user: { port: 50051, proto: 'ordermesh.user.v1.UserService' },
  order: { port: 50052, proto: 'ordermesh.order.v1.OrderService' },
  payment: { port: 50053, proto: 'ordermesh.payment.v1.PaymentService' },
  notification: { port: 50054, proto: 'ordermesh.notification.v1.NotificationService' },
} as const;
export type ServiceName = keyof typeof services;
export const serviceNames = Object.keys(services) as ServiceName[];

const renderCache = new Map<string, K8sObject[]>();
export function renderOverlay(env: string): K8sObject[] {
  let objects = renderCache.get(env);
  if (!objects) {
    objects = kustomize(join(overlaysDir, env));
    renderCache.set(env, objects);
  }
  return objects;
}
export const renderArgoCd = (): K8sObject[] => kustomize(join(repoRoot, 'argocd'));

export const clone = <T>(value: T): T => structuredClone(value);

// ---- schemas ------------------------------------------------------------------------------------

/** apiVersion/kind -> module exporting the model class (and its I<Kind> interface). */
export const models: Record<string, string> = {
  'v1/Namespace': 'kubernetes-models/v1/Namespace',
  'v1/ConfigMap': 'kubernetes-models/v1/ConfigMap',
  'v1/Secret': 'kubernetes-models/v1/Secret',
  'v1/Service': 'kubernetes-models/v1/Service',
  'v1/ServiceAccount': 'kubernetes-models/v1/ServiceAccount',
  'apps/v1/Deployment': 'kubernetes-models/apps/v1/Deployment',
  'apps/v1/StatefulSet': 'kubernetes-models/apps/v1/StatefulSet',
  'batch/v1/Job': 'kubernetes-models/batch/v1/Job',
  'policy/v1/PodDisruptionBudget': 'kubernetes-models/policy/v1/PodDisruptionBudget',
  'autoscaling/v2/HorizontalPodAutoscaler': 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  'networking.istio.io/v1/VirtualService': '@kubernetes-models/istio/networking.istio.io/v1/VirtualService',
  'networking.istio.io/v1/DestinationRule': '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule',
  'networking.istio.io/v1/Gateway': '@kubernetes-models/istio/networking.istio.io/v1/Gateway',
  'security.istio.io/v1/PeerAuthentication': '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication',
  'security.istio.io/v1/AuthorizationPolicy': '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy',
  'security.istio.io/v1/RequestAuthentication': '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication',
  'monitoring.coreos.com/v1/PodMonitor': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor',
  'monitoring.coreos.com/v1/PrometheusRule':
    '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule',
  'argoproj.io/v1alpha1/AppProject': '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject',
  'argoproj.io/v1alpha1/ApplicationSet': '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet',
};

const modelKey = (o: Pick<K8sObject, 'apiVersion' | 'kind'>): string => `${o.apiVersion}/${o.kind}`;

/**
 * kustomize folds long base64 Secret values over several lines; the API server's base64 decoder
 * skips those newlines, the schema's "byte" format does not.
 */
function normalize(o: K8sObject): K8sObject {
  if (o.kind !== 'Secret' || !o.data) return o;
  const data = Object.fromEntries(
    Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s/g, '')]),
  );
  return { ...o, data };
}

/** Validates each object with its kubernetes-models class; returns "<id>: <error>" strings. */
export async function schemaErrors(objects: K8sObject[]): Promise<string[]> {
  const errors: string[] = [];
  for (const o of objects) {
    const spec = models[modelKey(o)];
    if (!spec) {
      errors.push(`${id(o)}: no schema registered for ${modelKey(o)}`);
      continue;
    }
    const mod = (await import(spec)) as Record<string, new (data: unknown) => { validate(): void }>;
    const Model = mod[o.kind];
    if (!Model) throw new Error(`${spec} does not export ${o.kind}`);
    try {
      new Model(normalize(o)).validate();
    } catch (err) {
      errors.push(`${id(o)}: ${(err as Error).message}`);
    }
  }
  return errors;
}

/** node_modules holding typescript and the model packages (override for out-of-tree runs). */
const nodeModules = process.env.ORDERMESH_DEPLOY_NODE_MODULES ?? join(repoRoot, 'node_modules');
let strictRun = 0;

/**
 * Strict pass: the JSON schemas behind kubernetes-models allow unknown fields, so each object is
 * written as a typed object literal (`const o: IDeployment = {...}`) and type-checked with tsc.
 * TypeScript's excess-property check then rejects misspelled or unknown fields at any depth.
 */
export function strictErrors(objects: K8sObject[]): string[] {
  const dir = join(nodeModules, '.cache', `ordermesh-deploy-strict-${process.pid}-${strictRun++}`);
  mkdirSync(dir, { recursive: true });
  try {
    const imports = new Map<string, string>();
    const body: string[] = [];
    const starts: { line: number; id: string }[] = [];
    let line = 1;
    objects.forEach((o, i) => {
      const spec = models[modelKey(o)];
      if (!spec) throw new Error(`${id(o)}: no schema registered for ${modelKey(o)}`);
      const alias = `T_${modelKey(o).replace(/[^A-Za-z0-9]/g, '_')}`;
      imports.set(alias, `import type { I${o.kind} as ${alias} } from "${spec}";`);
      const literal = `export const o${i}: ${alias} = ${JSON.stringify(o, null, 1)};`;
      starts.push({ line, id: id(o) });
      body.push(literal);
      line += literal.split('\n').length;
    });
    const header = [...imports.values()];
    const offset = header.length;
    writeFileSync(join(dir, 'objects.mts'), `${[...header, ...body].join('\n')}\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2023',
          skipLibCheck: true,
          types: [],
        },
        files: ['objects.mts'],
      }),
    );
    const tsc = join(nodeModules, 'typescript/bin/tsc');
    if (!existsSync(tsc)) throw new Error(`typescript not found at ${tsc}`);
    const res = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], {
      encoding: 'utf8',
    });
    if (res.status === 0) return [];
    const out = `${res.stdout}${res.stderr}`;
    const errors = out
      .split('\n')
      .map((l) => /objects\.mts\((\d+),\d+\): error (TS\d+: .*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => {
        const at = Number(m[1]) - offset;
        const owner = [...starts].reverse().find((s) => s.line <= at);
        return `${owner?.id ?? '?'}: ${m[2]}`;
      });
    if (errors.length === 0) throw new Error(`tsc failed without diagnostics:\n${out}`);
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
