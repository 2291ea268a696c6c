// Policy checks over rendered manifests. Each returns a list of violations (empty = compliant), so
// the tests can run them on the real output and on deliberately broken copies.
import {
  callGraph,
  durationMs,
  id,
  type Json,
  type K8sObject,
  named,
  ofKind,
  type ServiceName,
  serviceNames,
  services,
} from './render.js';

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

const safeRetryOn = new Set([
  'connect-failure',
  'refused-stream',
  'reset',
  'unavailable',
  'cancelled',
  'resource-exhausted',
]);
const loginRetryOn = new Set(['connect-failure', 'refused-stream', 'unavailable']);
const BACKOFF_MAX_MS = 250; // Envoy's default maximum retry back-off (25ms base, 10x cap)

interface Route {
  vs: K8sObject;
  route: Json;
  host: string;
}
const routesOf = (objects: K8sObject[]): Route[] =>
  ofKind(objects, 'VirtualService').flatMap((vs) =>
    (vs.spec.http ?? []).map((route: Json) => ({ vs, route, host: route.route?.[0]?.destination?.host })),
  );
const routeId = (r: Route) => `${id(r.vs)}#${r.route.name ?? '?'}`;

/** Worst-case time a call through this route may take, retries included. */
export function routeBudgetMs(route: Json): number {
  const timeout = route.timeout ? durationMs(route.timeout) : Number.POSITIVE_INFINITY;
  if (!route.retries?.attempts) return timeout;
  const perTry = durationMs(route.retries.perTryTimeout);
  return Math.min(timeout, (route.retries.attempts + 1) * perTry + route.retries.attempts * BACKOFF_MAX_MS);
}

/** Per service: VirtualService, DestinationRule and AuthorizationPolicy, with the required knobs. */
export function meshCoverageViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  for (const name of serviceNames) {
    const vs = ofKind(objects, 'VirtualService').find((o) => (o.spec.hosts ?? []).includes(name) && !o.spec.gateways);
    if (!vs) v.push(`${name}: no in-mesh VirtualService`);
    const dr = ofKind(objects, 'DestinationRule').find((o) => o.spec.host === name);
    if (!dr) v.push(`${name}: no DestinationRule`);
    else {
      const tp = dr.spec.trafficPolicy ?? {};
      if (tp.tls?.mode !== 'ISTIO_MUTUAL') v.push(`${id(dr)}: tls.mode must be ISTIO_MUTUAL`);
      const od = tp.outlierDetection ?? {};
      for (const k of ['consecutive5xxErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent']) {
        if (od[k] === undefined) v.push(`${id(dr)}: outlierDetection.${k} missing`);
      }
      for (const k of ['http2MaxRequests', 'maxRequestsPerConnection']) {
        if (tp.connectionPool?.http?.[k] === undefined) v.push(`${id(dr)}: connectionPool.http.${k} missing`);
      }
    }
    if (!ofKind(objects, 'AuthorizationPolicy').some((p) => p.spec.selector?.matchLabels?.app === name)) {
      v.push(`${name}: no AuthorizationPolicy selects it`);
    }
  }
  return v;
}

/** retryOn is limited to safe conditions; Login only retries when the request never ran. */
export function retryViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  for (const r of routesOf(objects)) {
    if (!r.route.timeout) v.push(`${routeId(r)}: no overall timeout`);
    const retries = r.route.retries;
    if (!retries) continue;
    const on = String(retries.retryOn ?? '')
      .split(',')
      .filter(Boolean);
    if (on.length === 0) v.push(`${routeId(r)}: retryOn must be explicit`);
    for (const cond of on) if (!safeRetryOn.has(cond)) v.push(`${routeId(r)}: retryOn "${cond}" is not safe`);
    const login = (r.route.match ?? []).some((m: Json) =>
      String(m.uri?.exact ?? m.uri?.prefix ?? '').endsWith('/Login'),
    );
    if (login)
      for (const cond of on) if (!loginRetryOn.has(cond)) v.push(`${routeId(r)}: Login must not retry on "${cond}"`);
    const catchAll = !r.route.match;
    if (
      r.host === 'user' &&
      catchAll &&
      !(r.vs.spec.http ?? []).some((x: Json) => JSON.stringify(x.match ?? '').includes('/Login'))
    ) {
      v.push(`${routeId(r)}: Login needs its own route before the catch-all`);
    }
  }
  return v;
}

/**
 * Timeouts nest along the call graph: every route's timeout covers its attempts, and one try of a
 * caller outlasts the worst case of each callee it calls (and the app-level deadline sits between).
 */
export function timeoutViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  const routes = routesOf(objects);
  for (const r of routes) {
    const retries = r.route.retries;
    if (retries?.attempts && !(durationMs(r.route.timeout) > retries.attempts * durationMs(retries.perTryTimeout))) {
      v.push(`${routeId(r)}: timeout ${r.route.timeout} must exceed attempts x perTryTimeout`);
    }
  }
  const budget = (svc: ServiceName) =>
    Math.max(...routes.filter((r) => r.host === svc && !r.vs.spec.gateways).map((r) => routeBudgetMs(r.route)));
  for (const [caller, callees] of Object.entries(callGraph) as [ServiceName, ServiceName[]][]) {
    for (const callee of callees) {
      for (const r of routes.filter((x) => x.host === caller)) {
        const tryMs = r.route.retries?.perTryTimeout
          ? durationMs(r.route.retries.perTryTimeout)
          : durationMs(r.route.timeout);
        if (!(tryMs > budget(callee))) {
          v.push(
            `${routeId(r)}: per-try ${tryMs}ms to ${caller} must exceed the ${callee} worst case ${budget(callee)}ms`,
          );
        }
      }
    }
  }
  const order = named(objects, 'Deployment', 'order');
  const env = (containersOf(order ?? ({} as K8sObject))[0]?.env ?? []) as { name: string; value?: string }[];
  const paymentDeadline = Number(env.find((e) => e.name === 'PAYMENT_TIMEOUT_MS')?.value);
  const paymentTimeout = Math.min(
    ...routes.filter((r) => r.host === 'payment').map((r) => durationMs(r.route.timeout)),
  );
  const orderTry = Math.min(
    ...routes.filter((r) => r.host === 'order').map((r) => durationMs(r.route.retries.perTryTimeout)),
  );
  if (!(paymentDeadline >= paymentTimeout && paymentDeadline < orderTry)) {
    v.push(
      `order PAYMENT_TIMEOUT_MS=${paymentDeadline} must be >= payment timeout ${paymentTimeout}ms and < order per-try ${orderTry}ms`,
    );
  }
  return v;
}

const INGRESS = 'ingress';
/**
 * Least privilege: the caller -> callee edges that the ALLOW policies open for gRPC ports must be
 * exactly the call graph (plus ingress -> user, ingress -> notification/ListMyNotifications).
 */
export function authorizationViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  const policies = ofKind(objects, 'AuthorizationPolicy');
  const nsName = ofKind(objects, 'Namespace')[0]?.metadata.name;
  if (
    !policies.some((p) => p.metadata.name === 'allow-nothing' && !p.spec?.selector && !p.spec?.rules && !p.spec?.action)
  ) {
    v.push('namespace-wide allow-nothing AuthorizationPolicy missing');
  }
  const expected = new Set<string>([`${INGRESS}->user`, `${INGRESS}->notification`]);
  for (const [caller, callees] of Object.entries(callGraph))
    for (const callee of callees) expected.add(`${caller}->${callee}`);
  const actual = new Set<string>();
  for (const p of policies) {
    if (p.spec?.action && p.spec.action !== 'ALLOW') continue;
    const target = p.spec?.selector?.matchLabels?.app as ServiceName | undefined;
    for (const rule of p.spec?.rules ?? []) {
      const ops = (rule.to ?? []).map((t: Json) => t.operation ?? {});
      const grpcPorts = ops.flatMap((op: Json) => op.ports ?? []);
      const onlyHttpSidePorts =
        grpcPorts.length > 0 && grpcPorts.every((port: string) => ['9464', '8081'].includes(port));
      if (!rule.from) {
        if (!onlyHttpSidePorts) v.push(`${id(p)}: a rule without "from" may only open the metrics/JWKS ports`);
        continue;
      }
      if (!target) v.push(`${id(p)}: rules with sources need a workload selector`);
      if (ops.length === 0 || ops.some((op: Json) => !op.paths?.length))
        v.push(`${id(p)}: every rule must restrict paths`);
      for (const op of ops) {
        for (const path of op.paths ?? []) {
          const svc = target ? services[target]?.proto : undefined;
          if (!svc || !String(path).startsWith(`/${svc}/`)) v.push(`${id(p)}: path ${path} is outside ${svc}`);
        }
      }
      for (const from of rule.from) {
        for (const principal of from.source?.principals ?? []) {
          const m = /^cluster\.local\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
          if (!m) {
            v.push(`${id(p)}: principal ${principal} is not an exact service account`);
            continue;
          }
          const [, ns, sa] = m;
          if (sa === 'istio-ingressgateway-service-account') actual.add(`${INGRESS}->${target}`);
          else if (ns !== nsName) v.push(`${id(p)}: principal ${principal} is not in namespace ${nsName}`);
          else actual.add(`${sa}->${target}`);
        }
        if (!from.source?.principals?.length) v.push(`${id(p)}: source without principals`);
      }
    }
  }
  for (const e of expected) if (!actual.has(e)) v.push(`edge ${e} is not allowed`);
  for (const e of actual) if (!expected.has(e)) v.push(`edge ${e} is allowed but not in the call graph`);
  const notif = policies.find((p) => p.spec?.selector?.matchLabels?.app === 'notification');
  const notifPaths = (notif?.spec.rules ?? [])
    .filter((r: Json) => r.from)
    .flatMap((r: Json) => r.to.flatMap((t: Json) => t.operation.paths));
  if (JSON.stringify(notifPaths) !== JSON.stringify([`/${services.notification.proto}/ListMyNotifications`])) {
    v.push('notification: only ListMyNotifications may be reachable from the ingress');
  }
  const notifRules = (notif?.spec.rules ?? []).filter((r: Json) => r.from);
  if (!notifRules.every((r: Json) => r.from.every((f: Json) => f.source.requestPrincipals?.length))) {
    v.push('notification: ingress calls must carry a verified JWT (requestPrincipals)');
  }
  return v;
}

/** mTLS STRICT everywhere (except listed plaintext side ports) and JWT verification wired to UserService. */
export function authenticationViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  const nsName = ofKind(objects, 'Namespace')[0]?.metadata.name;
  for (const pa of ofKind(objects, 'PeerAuthentication')) {
    if (pa.spec.mtls?.mode !== 'STRICT') v.push(`${id(pa)}: mtls.mode must be STRICT`);
    for (const [port, setting] of Object.entries(pa.spec.portLevelMtls ?? {}) as [string, Json][]) {
      if (setting.mode !== 'STRICT' && !['9464', '8081'].includes(port))
        v.push(`${id(pa)}: port ${port} is not STRICT`);
    }
  }
  if (!ofKind(objects, 'PeerAuthentication').some((p) => p.metadata.name === 'default' && !p.spec.selector)) {
    v.push('namespace-wide PeerAuthentication missing');
  }
  const ra = ofKind(objects, 'RequestAuthentication');
  const rule = ra[0]?.spec.jwtRules?.[0];
  if (ra.length !== 1 || !rule) return [...v, 'exactly one RequestAuthentication expected'];
  if (rule.issuer !== 'ordermesh-user') v.push(`${id(ra[0] as K8sObject)}: issuer must be ordermesh-user`);
  if (!(rule.audiences ?? []).includes('ordermesh')) v.push(`${id(ra[0] as K8sObject)}: audience ordermesh missing`);
  if (rule.jwksUri !== `http://user.${nsName}.svc.cluster.local:8081/.well-known/jwks.json`) {
    v.push(`${id(ra[0] as K8sObject)}: jwksUri ${rule.jwksUri} does not point at user in ${nsName}`);
  }
  return v;
}

/** The public VirtualService exposes UserService and only ListMyNotifications of NotificationService. */
export function ingressViolations(objects: K8sObject[]): string[] {
  const v: string[] = [];
  const gateways = ofKind(objects, 'Gateway');
  const publicVs = ofKind(objects, 'VirtualService').filter((vs) => vs.spec.gateways?.length);
  if (gateways.length !== 1 || publicVs.length !== 1) return [`expected one Gateway and one public VirtualService`];
  const gw = gateways[0] as K8sObject;
  const vs = publicVs[0] as K8sObject;
  const gwHosts = new Set(gw.spec.servers.flatMap((s: Json) => s.hosts));
  for (const h of vs.spec.hosts) if (!gwHosts.has(h)) v.push(`${id(vs)}: host ${h} not served by ${id(gw)}`);
  if (!gw.spec.servers.some((s: Json) => s.port.protocol === 'HTTPS' && s.tls?.credentialName))
    v.push(`${id(gw)}: needs an HTTPS server`);
  const allowed = [
    { prefix: `/${services.user.proto}/`, host: 'user' },
    { exact: `/${services.user.proto}/Login`, host: 'user' },
    { exact: `/${services.notification.proto}/ListMyNotifications`, host: 'notification' },
  ];
  for (const route of vs.spec.http) {
    if (!route.match?.length) v.push(`${id(vs)}#${route.name}: catch-all routes are not allowed`);
    for (const m of route.match ?? []) {
      const ok = allowed.some(
        (a) =>
          a.host === route.route[0].destination.host &&
          (a.exact ? m.uri?.exact === a.exact : m.uri?.prefix === a.prefix),
      );
      if (!ok)
        v.push(`${id(vs)}#${route.name}: exposes ${JSON.stringify(m.uri)} -> ${route.route[0].destination.host}`);
    }
  }
  return v;
}

export const allOverlayPolicies = (objects: K8sObject[], opts: { requireHpa: boolean }): string[] => [
  ...workloadSecurityViolations(objects),
  ...serviceDeploymentViolations(objects, opts),
  ...imageViolations(objects),
  ...servicePortViolations(objects),
  ...namespaceViolations(objects),
  ...syncWaveViolations(objects),
  ...meshCoverageViolations(objects),
  ...retryViolations(objects),
  ...timeoutViolations(objects),
  ...authorizationViolations(objects),
  ...authenticationViolations(objects),
  ...ingressViolations(objects),
];
