// Policy checks over rendered manifests. Each returns a list of violations (empty = compliant), so
// the tests can run them on the real output and on deliberately broken copies.
import { type MeshModel, meshViolations } from '../../tools/mesh-check/checks.ts';
import { loadInputs } from '../../tools/mesh-check/tree.ts';
import { id, type Json, type K8sObject, named, ofKind, repoRoot, serviceNames, services } from './render.js';

const containersOf = (o: K8sObject): Json[] => o.spec?.template?.spec?.containers ?? [];
const podLabels = (o: K8sObject): Record<string, string> => o.spec?.template?.metadata?.labels ?? {};
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const syncWave = (o: K8sObject): number => Number(o.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0);

/** Pod-level hardening for every workload (Deployment, StatefulSet, Job). */
export function workloadSecurityViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  for (const o of objects.filter((x) => ['Deployment', 'StatefulSet', 'Job'].includes(x.kind))) {
    const pod = o.spec.template.spec;
    if (pod.securityContext?.runAsNonRoot !== true) v.push(`${id(o)}: pod runAsNonRoot must be true`);
    if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault')
      v.push(`${id(o)}: seccompProfile must be RuntimeDefault`);
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) v.push(`${id(o)}/${c.name}: allowPrivilegeEscalation must be false`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) v.push(`${id(o)}/${c.name}: must drop ALL capabilities`);
      if (sc.readOnlyRootFilesystem !== true) v.push(`${id(o)}/${c.name}: readOnlyRootFilesystem must be true`);
      if (sc.privileged === true) v.push(`${id(o)}/${c.name}: must not be privileged`);
      const r = c.resources ?? {};
      for (const k of ['cpu', 'memory']) if (!r.requests?.[k]) v.push(`${id(o)}/${c.name}: missing requests.${k}`);
      if (!r.limits?.memory) v.push(`${id(o)}/${c.name}: missing limits.memory`);
      if (o.kind !== 'Job' && (!c.readinessProbe || !c.livenessProbe))
        v.push(`${id(o)}/${c.name}: needs readiness and liveness probes`);
    }
  }
  return v;
}

/** The four gRPC Deployments: gRPC probes, labels, spreading, shutdown, PDB, HPA. */
export function serviceDeploymentViolations(objects: K8sObject[], opts: { requireHpa: boolean }): string[] {
  const v: string[] = [];
  const config = ofKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith('ordermesh-config'));
  const graceMs = Number(config?.data?.SHUTDOWN_GRACE_MS ?? Number.NaN);
  if (!Number.isFinite(graceMs)) v.push('ConfigMap ordermesh-config: SHUTDOWN_GRACE_MS missing');
  for (const name of serviceNames) {
    const d = named(objects, 'Deployment', name);
    if (!d) {
      v.push(`Deployment ${name}: missing`);
      continue;
    }
    const labels = podLabels(d);
    if (labels.app !== name || !labels.version)
      v.push(`${id(d)}: pod labels app=${name} and version are required (Kiali)`);
    if (d.spec.template.spec.serviceAccountName !== name) v.push(`${id(d)}: must run as ServiceAccount ${name}`);
    if (!named(objects, 'ServiceAccount', name)) v.push(`${id(d)}: ServiceAccount ${name} missing`);
    if (!(d.spec.template.spec.topologySpreadConstraints?.length > 0))
      v.push(`${id(d)}: needs topologySpreadConstraints`);
    const c = containersOf(d)[0];
    const port = services[name].port;
    if (!c.ports?.some((p: Json) => p.containerPort === port)) v.push(`${id(d)}: does not expose ${port}`);
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      if (c[probe]?.grpc?.port !== port) v.push(`${id(d)}: ${probe} must be a grpc probe on ${port}`);
    }
    const preStopMs = (c.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    const tgp = (d.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    if (!(tgp > graceMs + preStopMs))
      v.push(`${id(d)}: terminationGracePeriodSeconds must exceed preStop + SHUTDOWN_GRACE_MS`);
    if (!ofKind(objects, 'PodDisruptionBudget').some((p) => matches(p.spec.selector?.matchLabels, labels))) {
      v.push(`${id(d)}: no PodDisruptionBudget selects it`);
    }
    const hpa = ofKind(objects, 'HorizontalPodAutoscaler').find(
      (h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === name,
    );
    if (opts.requireHpa && !hpa) v.push(`${id(d)}: no HorizontalPodAutoscaler`);
    if (hpa && d.spec.replicas !== undefined) v.push(`${id(d)}: sets spec.replicas although an HPA owns it`);
    if (hpa && !(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas)) {
      v.push(`${id(hpa)}: needs minReplicas >= 2 and maxReplicas > minReplicas`);
    }
  }
  return v;
}

/** Every container image is tagged (or pinned by digest), never :latest. */
export function imageViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  for (const o of objects) {
    const pod = o.spec?.template?.spec;
    if (!pod) continue;
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      const image: string = c.image ?? '';
      const lastSegment = image.split('/').pop() ?? '';
      const tag = image.includes('@') ? 'digest' : lastSegment.includes(':') ? lastSegment.split(':').pop() : undefined;
      if (!tag) v.push(`${id(o)}/${c.name}: image ${image} has no tag`);
      else if (tag === 'latest') v.push(`${id(o)}/${c.name}: image ${image} uses :latest`);
    }
  }
  return v;
}

const istioPortPrefixes = [
  'grpc',
  'grpc-web',
  'http',
  'http2',
  'https',
  'tcp',
  'tls',
  'mongo',
  'mysql',
  'redis',
  'udp',
];
/** Istio protocol selection: every Service port is named <protocol>[-suffix] (or sets appProtocol). */
export function servicePortViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  for (const s of ofKind(objects, 'Service')) {
    for (const p of s.spec.ports ?? []) {
      const prefix = String(p.name ?? '').split('-')[0] ?? '';
      if (!istioPortPrefixes.includes(prefix))
        v.push(`${id(s)}: port ${p.port} name "${p.name}" has no Istio protocol prefix`);
    }
  }
  for (const name of serviceNames) {
    const s = named(objects, 'Service', name);
    if (!s?.spec.ports?.some((p: Json) => p.name === `grpc-${name}` && p.port === services[name].port)) {
      v.push(`Service ${name}: needs port grpc-${name} (${services[name].port})`);
    }
    if (!s?.spec.ports?.some((p: Json) => p.name === 'http-metrics' && p.port === 9464))
      v.push(`Service ${name}: needs port http-metrics (9464)`);
  }
  return v;
}

/** All namespaced objects sit in the overlay's namespace, which has sidecar injection on. */
export function namespaceViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  const namespaces = ofKind(objects, 'Namespace');
  if (namespaces.length !== 1) return [`expected exactly one Namespace, got ${namespaces.length}`];
  const ns = namespaces[0] as K8sObject;
  if (ns.metadata.labels?.['istio-injection'] !== 'enabled') v.push(`${id(ns)}: istio-injection=enabled missing`);
  for (const o of objects) {
    if (o.kind !== 'Namespace' && o.metadata.namespace !== ns.metadata.name)
      v.push(`${id(o)}: not in namespace ${ns.metadata.name}`);
  }
  return v;
}

/**
 * Environments may share a cluster: they must not collide on any (kind, namespace, name), on
 * cluster-scoped objects, or on the public host served by their Gateways.
 */
export function collisionViolations(byEnv: Record<string, K8sObject[]>): string[] {
  const v: string[] = [];
  const owner = new Map<string, string>();
  for (const [env, objects] of Object.entries(byEnv)) {
    const keys = new Set<string>();
    for (const o of objects) {
      keys.add(`${o.kind}/${o.metadata.namespace ?? '<cluster>'}/${o.metadata.name}`);
      for (const server of o.kind === 'Gateway' ? o.spec.servers : []) {
        for (const host of server.hosts) keys.add(`host:${host}:${server.port.number}`);
      }
    }
    for (const key of keys) {
      const other = owner.get(key);
      if (other) v.push(`${key} is rendered by both ${other} and ${env}`);
      else owner.set(key, env);
    }
  }
  return v;
}

/** Argo CD order: namespace < config < infra < migrations < mesh policy < services. */
export function syncWaveViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  const waves = (pred: (o: K8sObject) => boolean) => objects.filter(pred).map(syncWave);
  const max = (xs: number[]) => Math.max(...xs);
  const min = (xs: number[]) => Math.min(...xs);
  const ns = waves((o) => o.kind === 'Namespace');
  // What the migration Jobs and Deployments mount or reference.
  const config = waves(
    (o) =>
      ['ServiceAccount', 'Secret'].includes(o.kind) ||
      (o.kind === 'ConfigMap' && o.metadata.name.startsWith('ordermesh-config')),
  );
  const infra = waves((o) => o.kind === 'StatefulSet');
  const migrations = ofKind(objects, 'Job');
  const deployments = waves((o) => o.kind === 'Deployment');
  const mesh = waves((o) => o.apiVersion.includes('istio.io'));
  const jobWaves = migrations.map(syncWave);
  if (!(max(ns) < min(config))) v.push('Namespace must sync before ServiceAccounts/ConfigMaps/Secrets');
  if (!(max(config) < min(jobWaves))) v.push('config must sync before migrations');
  if (infra.length > 0 && !(max(infra) < min(jobWaves))) v.push('dev infrastructure must sync before migrations');
  if (!(max(jobWaves) < min(deployments))) v.push('migrations must finish before the Deployments');
  if (mesh.length > 0 && !(max(mesh) < min(deployments))) v.push('mesh policy must be in place before the Deployments');
  for (const name of serviceNames) {
    const job = migrations.find((j) => j.metadata.name === `${name}-migrate`);
    if (!job) {
      v.push(`Job ${name}-migrate: missing`);
      continue;
    }
    const a = job.metadata.annotations ?? {};
    if (a['argocd.argoproj.io/hook'] !== 'Sync' && a['argocd.argoproj.io/hook'] !== 'PreSync')
      v.push(`${id(job)}: must be an Argo CD hook`);
    if (!String(a['argocd.argoproj.io/hook-delete-policy'] ?? '').includes('BeforeHookCreation')) {
      v.push(`${id(job)}: needs hook-delete-policy BeforeHookCreation (Jobs are immutable)`);
    }
    const args: string[] = containersOf(job)[0]?.args ?? [];
    if (args.join(' ') !== `${name} migrate deploy`) v.push(`${id(job)}: must run "${name} migrate deploy"`);
  }
  for (const d of ofKind(objects, 'Deployment')) {
    const c = containersOf(d)[0];
    if (JSON.stringify(c.args ?? c.command ?? []).includes('migrate'))
      v.push(`${id(d)}: services never migrate themselves`);
  }
  return v;
}

// ---- mesh ---------------------------------------------------------------------------------------

// The mesh rules live in tools/mesh-check (`npm run mesh:check`); the overlay tests run the same ones.
let meshInputs: Omit<MeshModel, 'objects'> | undefined;
/** All mesh consistency rules (docs/mesh.md) for one rendered overlay. */
export function meshPolicyViolations(objects: K8sObject[]): string[] {
  meshInputs ??= loadInputs(repoRoot);
  return meshViolations({ objects, ...meshInputs });
}

export const allOverlayPolicies = (objects: K8sObject[], opts: { requireHpa: boolean }): string[] => [
  ...workloadSecurityViolations(objects),
  ...serviceDeploymentViolations(objects, opts),
  ...imageViolations(objects),
  ...servicePortViolations(objects),
  ...namespaceViolations(objects),
  ...syncWaveViolations(objects),
  ...meshPolicyViolations(objects),
];
