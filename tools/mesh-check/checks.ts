// The mesh consistency rules. Each returns violations (empty = consistent) so the command and the
// tests run the same functions on the real tree and on broken copies.

import { type Contract, type RpcMethod, retrySafe } from './contracts.ts';
import { durationMs, id, type Json, type K8sObject, ofKind } from './manifests.ts';
import type { CodeFacts } from './topology.ts';

/** One rendered overlay plus what the protos and the declared topology (or the code, in tests) say. */
export interface MeshModel {
  objects: K8sObject[];
  contracts: Map<string, Contract>;
  code: CodeFacts;
}

export const INGRESS = 'ingress';
const INGRESS_SA = 'istio-ingressgateway-service-account';
/** Plaintext side ports: metrics (9464) and UserService's JWKS (8081). */
const SIDE_PORTS = ['9464', '8081'];

// ---- retries and budgets ------------------------------------------------------------------------

/** Conditions where Envoy knows the request never reached the app: safe for any method. */
export const NOT_SENT_CONDITIONS = new Set(['connect-failure', 'refused-stream']);
/** Every condition a route may retry on; beyond NOT_SENT_CONDITIONS the app may have run the call. */
export const SAFE_RETRY_ON = new Set([
  ...NOT_SENT_CONDITIONS,
  'reset',
  'unavailable',
  'cancelled',
  'resource-exhausted',
]);
/** What Istio applies to a route without a retries block. */
export const ISTIO_DEFAULT_RETRIES = {
  attempts: 2,
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
};
/** Envoy's default retry back-off base interval; its cap defaults to 10x the base. */
export const ENVOY_BACKOFF_BASE_MS = 25;

/**
 * Longest total back-off before `retries` retries. Envoy waits a fully jittered time in
 * [0, (2^k - 1) x base) before retry k, capped at 10 x base; the worst case takes each ceiling.
 */
export function backoffWorstMs(retries: number, baseMs = ENVOY_BACKOFF_BASE_MS): number {
  let total = 0;
  for (let k = 1; k <= retries; k++) total += Math.min((2 ** k - 1) * baseMs, 10 * baseMs);
  return total;
}

export interface Budget {
  timeoutMs: number;
  /** Istio's attempts are retries: tries = attempts + 1. */
  tries: number;
  perTryMs: number;
  backoffMs: number;
  /** min(timeout, tries x perTry + back-off): the longest a caller may wait on this route. */
  worstMs: number;
  explain: string;
}

const retriesOf = (route: Json): { attempts: number; retryOn: string; perTryTimeout?: string; backoff?: string } =>
  route.retries ?? ISTIO_DEFAULT_RETRIES;
const conditions = (route: Json): string[] =>
  route.retries?.attempts === 0
    ? []
    : String(retriesOf(route).retryOn ?? '')
        .split(',')
        .filter(Boolean);

export function routeBudget(route: Json): Budget {
  const timeoutMs = route.timeout ? durationMs(route.timeout) : Number.POSITIVE_INFINITY;
  const retries = retriesOf(route);
  const tries = (retries.attempts ?? 0) + 1;
  const perTryMs = retries.perTryTimeout ? durationMs(retries.perTryTimeout) : timeoutMs;
  const base = retries.backoff ? durationMs(retries.backoff) : ENVOY_BACKOFF_BASE_MS;
  const backoffMs = backoffWorstMs(tries - 1, base);
  const worstMs = Math.min(timeoutMs, tries * perTryMs + backoffMs);
  const explain = `min(timeout ${timeoutMs}ms, ${tries} tries x ${perTryMs}ms + ${backoffMs}ms back-off)`;
  return { timeoutMs, tries, perTryMs, backoffMs, worstMs, explain };
}

export interface Route {
  vs: K8sObject;
  route: Json;
  host: string;
  /** Bound to a Gateway (the public VirtualService), not the in-mesh one. */
  ingress: boolean;
}
export const routeId = (r: Route): string => `${id(r.vs)}#${r.route.name ?? (r.vs.spec.http ?? []).indexOf(r.route)}`;
export const routesOf = (objects: K8sObject[]): Route[] =>
  ofKind(objects, 'VirtualService').flatMap((vs) =>
    (vs.spec?.http ?? []).map((route: Json) => ({
      vs,
      route,
      host: route.route?.[0]?.destination?.host,
      ingress: (vs.spec.gateways ?? []).length > 0,
    })),
  );

const uriMatches = (match: Json, path: string): boolean => {
  const uri = match?.uri;
  if (!uri) return true; // matches on headers etc. only: may apply to any path
  if (uri.exact !== undefined) return uri.exact === path;
  if (uri.prefix !== undefined) return path.startsWith(uri.prefix);
  if (uri.regex !== undefined) return new RegExp(`^(?:${uri.regex})$`).test(path);
  return true;
};

export interface Binding {
  route: Route;
  contract: Contract;
  method: RpcMethod;
}

/** Which route (first match, as Istio evaluates them) carries each method, per VirtualService. */
export function methodBindings(model: MeshModel): Binding[] {
  const bindings: Binding[] = [];
  const routes = routesOf(model.objects);
  for (const vs of ofKind(model.objects, 'VirtualService')) {
    const ingress = (vs.spec.gateways ?? []).length > 0;
    const vsRoutes = routes.filter((r) => r.vs === vs);
    for (const contract of model.contracts.values()) {
      if (!ingress && !(vs.spec.hosts ?? []).includes(contract.service)) continue;
      for (const method of contract.methods) {
        const path = `/${contract.fullName}/${method.name}`;
        const first = vsRoutes.find(
          (r) => !r.route.match?.length || r.route.match.some((m: Json) => uriMatches(m, path)),
        );
        if (first && first.host === contract.service) bindings.push({ route: first, contract, method });
      }
    }
  }
  return bindings;
}

/** Timeout on every route, explicit retries limited to conditions that are safe to retry. */
export function retryViolations(model: MeshModel): string[] {
  const v: string[] = [];
  for (const r of routesOf(model.objects)) {
    if (!r.route.timeout) v.push(`${routeId(r)}: no overall timeout`);
    const retries = r.route.retries;
    if (!retries) {
      v.push(`${routeId(r)}: no retries block, so Istio's default applies (${ISTIO_DEFAULT_RETRIES.retryOn}); set it`);
      continue;
    }
    if (retries.attempts === 0) continue;
    const on = conditions(r.route);
    if (on.length === 0) v.push(`${routeId(r)}: retryOn must be explicit`);
    for (const cond of on) if (!SAFE_RETRY_ON.has(cond)) v.push(`${routeId(r)}: retryOn "${cond}" is not safe`);
    if (!retries.perTryTimeout) v.push(`${routeId(r)}: perTryTimeout missing, so one try may use the whole timeout`);
  }
  return v;
}

/** A method the mesh may retry after it could have run must be idempotent or carry an idempotency key. */
export function idempotencyViolations(model: MeshModel): string[] {
  const v: string[] = [];
  for (const b of methodBindings(model)) {
    const mayHaveRun = conditions(b.route.route).filter((c) => !NOT_SENT_CONDITIONS.has(c));
    if (mayHaveRun.length === 0 || retrySafe(b.method)) continue;
    v.push(
      `${routeId(b.route)}: retries ${b.contract.fullName}/${b.method.name} on ${mayHaveRun.join(',')}, but it is neither IDEMPOTENT/NO_SIDE_EFFECTS (idempotency_level) nor has an idempotency_key field`,
    );
  }
  return v;
}

export interface Deadline {
  setting: string;
  ms: number;
  /** Where the value comes from: the Deployment's env, a ConfigMap, or the code's default. */
  source: string;
}

/**
 * The caller's app deadline for calls to `callee`: <CALLEE>_TIMEOUT_MS if the caller's config has
 * one, else DOWNSTREAM_TIMEOUT_MS; the overlay's env overrides the default in config.ts.
 */
export function deadlineOf(model: MeshModel, caller: string, callee: string): Deadline | string {
  const svc = model.code.services.find((s) => s.name === caller);
  const configFile = `services/${caller}/src/config.ts`;
  if (!svc) return `${caller}: ${configFile} not found`;
  const setting = [`${callee.toUpperCase()}_TIMEOUT_MS`, 'DOWNSTREAM_TIMEOUT_MS'].find((s) => s in svc.defaults);
  if (!setting) {
    return `${caller} -> ${callee}: no deadline setting (${callee.toUpperCase()}_TIMEOUT_MS or DOWNSTREAM_TIMEOUT_MS) in ${configFile}`;
  }
  if (!svc.reads.has(setting)) return `${caller} -> ${callee}: ${setting} is declared in ${configFile} but never read`;
  const found = deadlineValue(model, caller, setting, svc.defaults[setting] as number, configFile);
  if (!(found.ms > 0)) {
    return `${caller} -> ${callee}: ${setting}=${JSON.stringify(found.raw)} (${found.source}) is not a positive number of milliseconds`;
  }
  return { setting, ms: found.ms, source: found.source };
}

/** Kubernetes precedence: the container's env wins over its envFrom ConfigMaps; unset means the code's default. */
function deadlineValue(
  model: MeshModel,
  caller: string,
  setting: string,
  fallback: number,
  configFile: string,
): { raw: unknown; ms: number; source: string } {
  const deployment = model.objects.find((o) => o.kind === 'Deployment' && o.metadata.name === caller);
  const container = deployment?.spec?.template?.spec?.containers?.[0];
  const fromEnv = (container?.env ?? []).find((e: Json) => e.name === setting && e.value !== undefined);
  if (fromEnv) return { raw: fromEnv.value, ms: Number(fromEnv.value), source: `${id(deployment as K8sObject)} env` };
  for (const ref of container?.envFrom ?? []) {
    const cm = model.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.configMapRef?.name);
    const value = cm?.data?.[setting];
    if (value !== undefined) return { raw: value, ms: Number(value), source: id(cm as K8sObject) };
  }
  return { raw: fallback, ms: fallback, source: `${configFile} default` };
}

export interface Edge {
  caller: string;
  callee: string;
  method: RpcMethod;
  contract: Contract;
  at: string;
}

/** Caller -> callee method calls found in the code, one per (caller, callee, method). */
export function edgesOf(model: MeshModel): Edge[] {
  const seen = new Map<string, Edge>();
  for (const c of model.code.calls) {
    const key = `${c.caller}->${c.callee}.${c.method}`;
    const contract = model.contracts.get(c.callee);
    const method = contract?.methods.find((m) => m.name === c.method);
    if (!seen.has(key) && contract && method) seen.set(key, { ...c, contract, method });
  }
  return [...seen.values()];
}

/**
 * Budgets nest along the call graph. For every call a service makes: its app deadline covers the
 * callee's worst case, and each try of the caller (per route that reaches it) outlasts both, so the
 * caller can still answer (e.g. with a fallback) before its own try is cut.
 */
export function budgetViolations(model: MeshModel): string[] {
  const v = new Set<string>();
  const routes = routesOf(model.objects);
  for (const r of routes) {
    const retries = r.route.retries;
    if (retries?.attempts && r.route.timeout && retries.perTryTimeout) {
      if (!(durationMs(r.route.timeout) > retries.attempts * durationMs(retries.perTryTimeout)))
        v.add(`${routeId(r)}: timeout ${r.route.timeout} must exceed attempts x perTryTimeout`);
    }
  }
  const bindings = methodBindings(model).filter((b) => !b.route.ingress);
  for (const e of edgesOf(model)) {
    const call = `${e.caller} -> ${e.callee} ${e.method.name}`;
    const binding = bindings.find((b) => b.contract === e.contract && b.method === e.method);
    if (!binding) {
      v.add(`${call}: no route in ${e.callee}'s VirtualService carries it`);
      continue;
    }
    const worst = routeBudget(binding.route.route);
    const deadline = deadlineOf(model, e.caller, e.callee);
    if (typeof deadline === 'string') v.add(deadline);
    else if (deadline.ms < worst.worstMs) {
      v.add(
        `${call}: ${deadline.setting}=${deadline.ms}ms (${deadline.source}) is shorter than ${e.callee}'s worst case ${worst.worstMs}ms = ${worst.explain} (${routeId(binding.route)})`,
      );
    }
    for (const r of routes.filter((x) => x.host === e.caller)) {
      const own = routeBudget(r.route);
      if (!(own.perTryMs > worst.worstMs)) {
        v.add(
          `${routeId(r)}: per-try ${own.perTryMs}ms for ${e.caller} is not longer than ${e.callee}'s worst case ${worst.worstMs}ms for ${e.method.name} = ${worst.explain}`,
        );
      }
      if (typeof deadline !== 'string' && !(own.perTryMs > deadline.ms)) {
        v.add(
          `${routeId(r)}: per-try ${own.perTryMs}ms for ${e.caller} must exceed its ${deadline.setting}=${deadline.ms}ms, so ${e.caller} answers before its own try is cut`,
        );
      }
    }
  }
  return [...v];
}

// ---- coverage -----------------------------------------------------------------------------------

/** Per service: VirtualService, DestinationRule and AuthorizationPolicy, with the required knobs. */
export function coverageViolations(model: MeshModel): string[] {
  const v: string[] = [];
  const { objects } = model;
  for (const { name } of model.code.services) {
    if (!model.contracts.has(name)) v.push(`${name}: no gRPC service ordermesh.${name}.v1 in the descriptor set`);
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
    if (!ofKind(objects, 'AuthorizationPolicy').some((p) => p.spec?.selector?.matchLabels?.app === name)) {
      v.push(`${name}: no AuthorizationPolicy selects it`);
    }
  }
  for (const o of objects.filter((x) => x.apiVersion.includes('istio.io'))) {
    if (!['networking.istio.io/v1', 'security.istio.io/v1'].includes(o.apiVersion))
      v.push(`${id(o)}: apiVersion ${o.apiVersion}; use networking.istio.io/v1 or security.istio.io/v1`);
  }
  return v;
}

// ---- security -----------------------------------------------------------------------------------

interface Grant {
  source: string;
  target: string;
  method: string;
  policy: K8sObject;
}

/**
 * Least privilege per method: the (source, service, method) triples the ALLOW policies open must be
 * exactly the calls the code makes plus what the ingress VirtualService exposes.
 */
export function authorizationViolations(model: MeshModel): string[] {
  const v: string[] = [];
  const policies = ofKind(model.objects, 'AuthorizationPolicy');
  const nsName = ofKind(model.objects, 'Namespace')[0]?.metadata.name;
  if (
    !policies.some((p) => p.metadata.name === 'allow-nothing' && !p.spec?.selector && !p.spec?.rules && !p.spec?.action)
  ) {
    v.push('namespace-wide allow-nothing AuthorizationPolicy missing');
  }
  const expected = new Map<string, string>();
  for (const e of edgesOf(model)) expected.set(`${e.caller} -> ${e.callee} ${e.method.name}`, `called at ${e.at}`);
  for (const b of methodBindings(model).filter((x) => x.route.ingress)) {
    expected.set(`${INGRESS} -> ${b.contract.service} ${b.method.name}`, `exposed by ${routeId(b.route)}`);
  }
  const grants: Grant[] = [];
  for (const p of policies) {
    if (p.spec?.action && p.spec.action !== 'ALLOW') continue;
    const target = p.spec?.selector?.matchLabels?.app as string | undefined;
    const contract = target ? model.contracts.get(target) : undefined;
    for (const rule of p.spec?.rules ?? []) {
      const ops = (rule.to ?? []).map((t: Json) => t.operation ?? {});
      const ports = ops.flatMap((op: Json) => op.ports ?? []);
      if (!rule.from) {
        if (!(ports.length > 0 && ports.every((port: string) => SIDE_PORTS.includes(port))))
          v.push(`${id(p)}: a rule without "from" may only open the metrics/JWKS ports`);
        continue;
      }
      if (!contract) {
        v.push(`${id(p)}: rules with sources need a workload selector for a gRPC service`);
        continue;
      }
      if (ops.length === 0 || ops.some((op: Json) => !op.paths?.length))
        v.push(`${id(p)}: every rule must restrict paths`);
      const methods: string[] = [];
      for (const path of ops.flatMap((op: Json) => op.paths ?? []) as string[]) {
        if (path === `/${contract.fullName}/*`) methods.push(...contract.methods.map((m) => m.name));
        else if (contract.methods.some((m) => path === `/${contract.fullName}/${m.name}`))
          methods.push(path.split('/')[2] as string);
        else v.push(`${id(p)}: path ${path} is not a method of ${contract.fullName}`);
      }
      for (const from of rule.from) {
        if (!from.source?.principals?.length) v.push(`${id(p)}: source without principals`);
        for (const principal of from.source?.principals ?? []) {
          const m = /^cluster\.local\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(principal);
          if (!m) {
            v.push(`${id(p)}: principal ${principal} is not an exact service account`);
            continue;
          }
          const [, ns, sa] = m as unknown as [string, string, string];
          let source = sa;
          if (sa === INGRESS_SA) source = INGRESS;
          else if (ns !== nsName) {
            v.push(`${id(p)}: principal ${principal} is not in namespace ${nsName}`);
            continue;
          }
          for (const method of methods) grants.push({ source, target: contract.service, method, policy: p });
        }
      }
    }
  }
  const granted = new Map(grants.map((g) => [`${g.source} -> ${g.target} ${g.method}`, g]));
  for (const [call, why] of expected) {
    if (!granted.has(call)) v.push(`${call} (${why}) is not allowed by any AuthorizationPolicy`);
  }
  for (const [call, g] of granted) {
    if (!expected.has(call)) v.push(`${id(g.policy)} allows ${call}, which nothing calls or exposes (least privilege)`);
  }
  // NotificationService's one RPC reads the caller's notifications: the ingress must prove who that is.
  for (const p of policies.filter((x) => x.spec?.selector?.matchLabels?.app === 'notification')) {
    for (const rule of (p.spec.rules ?? []).filter((r: Json) => r.from)) {
      if (!rule.from.every((f: Json) => f.source?.requestPrincipals?.length))
        v.push(`${id(p)}: calls to notification must carry a verified JWT (requestPrincipals)`);
    }
  }
  return v;
}

/** mTLS STRICT everywhere (except listed plaintext side ports) and JWT verification wired to UserService. */
export function authenticationViolations(model: MeshModel): string[] {
  const v: string[] = [];
  const { objects } = model;
  const nsName = ofKind(objects, 'Namespace')[0]?.metadata.name;
  for (const pa of ofKind(objects, 'PeerAuthentication')) {
    if (pa.spec.mtls?.mode !== 'STRICT') v.push(`${id(pa)}: mtls.mode must be STRICT`);
    for (const [port, setting] of Object.entries(pa.spec.portLevelMtls ?? {}) as [string, Json][]) {
      if (setting.mode !== 'STRICT' && !SIDE_PORTS.includes(port)) v.push(`${id(pa)}: port ${port} is not STRICT`);
    }
  }
  if (!ofKind(objects, 'PeerAuthentication').some((p) => p.metadata.name === 'default' && !p.spec.selector)) {
    v.push('namespace-wide PeerAuthentication missing');
  }
  const ra = ofKind(objects, 'RequestAuthentication');
  const rule = ra[0]?.spec.jwtRules?.[0];
  if (ra.length !== 1 || !rule) return [...v, 'exactly one RequestAuthentication expected'];
  const raId = id(ra[0] as K8sObject);
  if (rule.issuer !== 'ordermesh-user') v.push(`${raId}: issuer must be ordermesh-user`);
  if (!(rule.audiences ?? []).includes('ordermesh')) v.push(`${raId}: audience ordermesh missing`);
  if (rule.jwksUri !== `http://user.${nsName}.svc.cluster.local:8081/.well-known/jwks.json`) {
    v.push(`${raId}: jwksUri ${rule.jwksUri} does not point at user in ${nsName}`);
  }
  return v;
}

/** The public VirtualService exposes UserService and only ListMyNotifications of NotificationService. */
export function ingressViolations(model: MeshModel): string[] {
  const v: string[] = [];
  const { objects } = model;
  const gateways = ofKind(objects, 'Gateway');
  const publicVs = ofKind(objects, 'VirtualService').filter((vs) => vs.spec.gateways?.length);
  if (gateways.length !== 1 || publicVs.length !== 1) return ['expected one Gateway and one public VirtualService'];
  const gw = gateways[0] as K8sObject;
  const vs = publicVs[0] as K8sObject;
  const gwHosts = new Set(gw.spec.servers.flatMap((s: Json) => s.hosts));
  for (const h of vs.spec.hosts) if (!gwHosts.has(h)) v.push(`${id(vs)}: host ${h} not served by ${id(gw)}`);
  if (!gw.spec.servers.some((s: Json) => s.port.protocol === 'HTTPS' && s.tls?.credentialName))
    v.push(`${id(gw)}: needs an HTTPS server`);
  const user = model.contracts.get('user')?.fullName;
  const notification = model.contracts.get('notification')?.fullName;
  const allowed = [
    { prefix: `/${user}/`, host: 'user' },
    { exact: `/${user}/Login`, host: 'user' },
    { exact: `/${notification}/ListMyNotifications`, host: 'notification' },
  ];
  for (const route of vs.spec.http) {
    if (!route.match?.length) v.push(`${id(vs)}#${route.name}: catch-all routes are not allowed`);
    const host = route.route?.[0]?.destination?.host;
    for (const m of route.match ?? []) {
      const ok = allowed.some(
        (a) => a.host === host && (a.exact ? m.uri?.exact === a.exact : m.uri?.prefix === a.prefix),
      );
      if (!ok) v.push(`${id(vs)}#${route.name}: exposes ${JSON.stringify(m.uri)} -> ${host}`);
    }
  }
  return v;
}

/** Retry stacking found in the code (tests/deploy/code-scan.ts); a declared topology has none. */
export const stackingViolations = (model: MeshModel): string[] => model.code.stacking;

/** Every rule, in the order the docs list them. */
export const meshViolations = (model: MeshModel): string[] => [
  ...coverageViolations(model),
  ...retryViolations(model),
  ...idempotencyViolations(model),
  ...budgetViolations(model),
  ...stackingViolations(model),
  ...authorizationViolations(model),
  ...authenticationViolations(model),
  ...ingressViolations(model),
];
