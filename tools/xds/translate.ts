/**
 * Translates the Istio manifests in mesh/ into the xDS resources a proxyless
 * gRPC client (@grpc/grpc-js-xds) reads: Listener (HttpConnectionManager as
 * api_listener), RouteConfiguration, Cluster (EDS) and ClusterLoadAssignment.
 *
 * A pure function of its inputs, so it is unit-tested on the real mesh/ files.
 * Resources are plain objects in the proto3 field names (snake_case) that
 * @grpc/proto-loader encodes; Any fields carry an '@type'. docs/proxyless.md
 * lists every mapping and every gap.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const TYPE_URL = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routeConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  clusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  httpConnectionManager:
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
} as const;

/** The HTTP filter name that per-route fault overrides are keyed by. */
export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

// ---------------------------------------------------------------- Istio input (the subset mesh/ uses)

export interface IstioPercent {
  value: number;
}

export interface IstioFault {
  delay?: { fixedDelay: string; percentage?: IstioPercent };
  abort?: { grpcStatus?: string; httpStatus?: number; percentage?: IstioPercent };
}

export interface IstioRetries {
  attempts: number;
  perTryTimeout?: string;
  retryOn?: string;
}

export interface IstioHttpRoute {
  name?: string;
  match?: { uri?: { exact?: string; prefix?: string; regex?: string } }[];
  route: { destination: { host: string; port?: { number: number } } }[];
  timeout?: string;
  retries?: IstioRetries;
  fault?: IstioFault;
}

export interface IstioOutlierDetection {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
}

export interface IstioTrafficPolicy {
  loadBalancer?: { simple?: string };
  connectionPool?: {
    tcp?: { maxConnections?: number; connectTimeout?: string };
    http?: { http2MaxRequests?: number; maxRequestsPerConnection?: number };
  };
  outlierDetection?: IstioOutlierDetection;
  tls?: { mode?: string };
}

export interface VirtualService {
  name: string;
  hosts: string[];
  http: IstioHttpRoute[];
}

export interface DestinationRule {
  name: string;
  host: string;
  trafficPolicy: IstioTrafficPolicy;
}

/** The in-mesh VirtualServices (those not bound to a Gateway) and the DestinationRules. */
export interface MeshPolicies {
  virtualServices: VirtualService[];
  destinationRules: DestinationRule[];
}

interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, unknown>;
}

/** Reads every *.yaml in `meshDir` (except kustomization.yaml) and keeps the mesh-internal policies. */
export function readMeshPolicies(meshDir: string): MeshPolicies {
  const files = readdirSync(meshDir).filter((file) => /\.ya?ml$/.test(file) && !file.startsWith('kustomization'));
  const manifests: { file: string; manifest: Manifest }[] = [];
  for (const file of files.sort()) {
    for (const document of parseAllDocuments(readFileSync(join(meshDir, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
      const manifest = document.toJS() as Manifest | null;
      if (manifest) manifests.push({ file, manifest });
    }
  }
  return parseMeshPolicies(manifests);
}

/** Picks the VirtualServices without gateways and the DestinationRules out of parsed manifests. */
export function parseMeshPolicies(manifests: readonly { file: string; manifest: Manifest }[]): MeshPolicies {
  const policies: MeshPolicies = { virtualServices: [], destinationRules: [] };
  for (const { file, manifest } of manifests) {
    const where = `${file}: ${manifest.kind} ${manifest.metadata?.name ?? '(unnamed)'}`;
    const spec = manifest.spec ?? {};
    if (manifest.kind === 'VirtualService') {
      // Gateway-bound routes (the ingress) are Envoy's business; proxyless clients only see mesh routes.
      if (Array.isArray(spec.gateways) && spec.gateways.some((g) => g !== 'mesh')) continue;
      if (!Array.isArray(spec.hosts) || !Array.isArray(spec.http))
        throw new Error(`${where}: needs spec.hosts and spec.http`);
      policies.virtualServices.push({
        name: manifest.metadata?.name ?? '',
        hosts: spec.hosts as string[],
        http: spec.http as IstioHttpRoute[],
      });
    } else if (manifest.kind === 'DestinationRule') {
      if (typeof spec.host !== 'string') throw new Error(`${where}: needs spec.host`);
      policies.destinationRules.push({
        name: manifest.metadata?.name ?? '',
        host: spec.host,
        trafficPolicy: (spec.trafficPolicy ?? {}) as IstioTrafficPolicy,
      });
    }
  }
  return policies;
}

// ---------------------------------------------------------------- helpers

export interface ProtoDuration {
  seconds: number;
  nanos: number;
}

/**
 * Istio durations ("2.5s", "300ms", "1m", "1h") as google.protobuf.Duration.
 * Written as {seconds, nanos} because a string like "0.2s" is misread by
 * grpc-js as 2 ns (see the snags in docs/proxyless.md).
 */
export function parseDuration(text: string, what = 'duration'): ProtoDuration {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(text).trim());
  if (!match) throw new Error(`${what}: ${JSON.stringify(text)} is not a duration like 2.5s, 300ms, 1m or 1h`);
  const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  const totalNanos = Math.round(Number(match[1]) * unitMs * 1_000_000);
  return { seconds: Math.floor(totalNanos / 1e9), nanos: totalNanos % 1e9 };
}

export const durationMs = (d: ProtoDuration) => d.seconds * 1000 + d.nanos / 1e6;

/** Istio's percentage (0 to 100, fractions allowed) as an Envoy FractionalPercent per million. */
function fractionalPercent(percentage: IstioPercent | undefined) {
  const value = percentage?.value ?? 100;
  if (!(value >= 0 && value <= 100)) throw new Error(`fault percentage ${value}: must be within 0..100`);
  return { numerator: Math.round(value * 10_000), denominator: 'MILLION' };
}

const GRPC_STATUS: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** VirtualService fault: as an HTTPFault (delay and abort), the form the gRPC fault filter reads. */
export function translateFault(fault: IstioFault, where: string) {
  const result: Record<string, unknown> = {};
  if (fault.delay) {
    result.delay = {
      fixed_delay: parseDuration(fault.delay.fixedDelay, `${where} fault.delay.fixedDelay`),
      percentage: fractionalPercent(fault.delay.percentage),
    };
  }
  if (fault.abort) {
    const { grpcStatus, httpStatus } = fault.abort;
    let abort: Record<string, unknown>;
    if (grpcStatus !== undefined) {
      const code = GRPC_STATUS[grpcStatus.toUpperCase()];
      if (code === undefined) throw new Error(`${where} fault.abort.grpcStatus ${grpcStatus}: not a gRPC status name`);
      abort = { grpc_status: code };
    } else if (httpStatus !== undefined) {
      abort = { http_status: httpStatus };
    } else {
      throw new Error(`${where} fault.abort: needs grpcStatus or httpStatus`);
    }
    result.abort = { ...abort, percentage: fractionalPercent(fault.abort.percentage) };
  }
  return result;
}

// ---------------------------------------------------------------- output

export interface XdsResources {
  /** Keyed by resource name, which is what clients subscribe to. */
  listeners: Map<string, Record<string, unknown>>;
  routeConfigurations: Map<string, Record<string, unknown>>;
  clusters: Map<string, Record<string, unknown>>;
  clusterLoadAssignments: Map<string, Record<string, unknown>>;
}

export interface TranslateOptions {
  /** Kubernetes namespace; listener names are `<host>.<namespace>.svc.cluster.local:<port>`. */
  namespace: string;
  /** Endpoints per service host ("payment": ["127.0.0.1:26003", ...]). A host without an entry gets none. */
  endpoints: Readonly<Record<string, readonly string[]>>;
  /**
   * Appended to route configuration and cluster names. grpc-js-xds ignores
   * some in-place updates (a Cluster that only gains outlier_detection), so
   * each change of policy is published under fresh names; the Listener names
   * stay, since they are what clients dial.
   */
  generation?: number;
  /**
   * Failure percentage above which a host is ejected. Istio's
   * outlierDetection has no such knob (it counts consecutive errors, which
   * gRPC cannot do); 50 % is our choice, see docs/proxyless.md.
   */
  failurePercentageThreshold?: number;
}

/** `payment` in namespace `ordermesh` is `payment.ordermesh.svc.cluster.local`. */
export const fqdn = (host: string, namespace: string) =>
  host.includes('.') ? host : `${host}.${namespace}.svc.cluster.local`;

/** The name a client dials as `xds:///<listenerName>` and subscribes to over LDS. */
export const listenerName = (host: string, namespace: string, port: number) => `${fqdn(host, namespace)}:${port}`;

/** Istio's outbound cluster name, plus the generation. */
const clusterName = (host: string, namespace: string, port: number, generation: number) =>
  `outbound|${port}||${fqdn(host, namespace)}|g${generation}`;

/** EDS names do not change with the generation: endpoints are independent of policy. */
export const edsServiceName = (host: string, namespace: string, port: number) =>
  `outbound|${port}||${fqdn(host, namespace)}`;

function parseHostPort(address: string, where: string) {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  if (!match) throw new Error(`${where}: endpoint ${JSON.stringify(address)} is not host:port`);
  return { address: (match[1] as string).replace(/^\[|\]$/g, ''), port_value: Number(match[2]) };
}

/** A ClusterLoadAssignment with every address in one locality, all healthy and equally weighted. */
export function clusterLoadAssignment(name: string, addresses: readonly string[]) {
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: { region: 'local', zone: 'local' },
        load_balancing_weight: { value: 1 },
        lb_endpoints: addresses.map((address) => ({
          health_status: 'HEALTHY',
          endpoint: { address: { socket_address: parseHostPort(address, name) } },
        })),
      },
    ],
  };
}

function routeMatch(route: IstioHttpRoute, where: string): Record<string, unknown>[] {
  if (!route.match || route.match.length === 0) return [{ prefix: '' }];
  return route.match.map((match) => {
    const uri = match.uri;
    if (uri?.exact !== undefined) return { path: uri.exact };
    if (uri?.prefix !== undefined) return { prefix: uri.prefix };
    throw new Error(`${where}: only uri exact and prefix matches translate (got ${JSON.stringify(match)})`);
  });
}

/** Envoy's default retry back-off, written out so grpc-js and Envoy agree. */
const RETRY_BACK_OFF = {
  base_interval: { seconds: 0, nanos: 25_000_000 },
  max_interval: { seconds: 0, nanos: 250_000_000 },
};

function translateRoute(route: IstioHttpRoute, cluster: string, where: string) {
  const action: Record<string, unknown> = { cluster };
  if (route.timeout) {
    const timeout = parseDuration(route.timeout, `${where} timeout`);
    action.timeout = timeout;
    // gRPC reads the timeout from max_stream_duration (gRFC A31), not from route.timeout.
    action.max_stream_duration = { max_stream_duration: timeout, grpc_timeout_header_max: timeout };
  }
  if (route.retries && route.retries.attempts > 0) {
    action.retry_policy = {
      retry_on: route.retries.retryOn ?? 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
      num_retries: { value: route.retries.attempts },
      ...(route.retries.perTryTimeout
        ? { per_try_timeout: parseDuration(route.retries.perTryTimeout, `${where} retries.perTryTimeout`) }
        : {}),
      retry_back_off: RETRY_BACK_OFF,
    };
  }
  return (match: Record<string, unknown>) => ({
    ...(route.name ? { name: route.name } : {}),
    match,
    route: action,
    ...(route.fault
      ? {
          typed_per_filter_config: {
            [FAULT_FILTER_NAME]: { '@type': TYPE_URL.fault, ...translateFault(route.fault, where) },
          },
        }
      : {}),
  });
}

function translateCluster(
  name: string,
  edsName: string,
  policy: IstioTrafficPolicy | undefined,
  options: TranslateOptions,
) {
  const cluster: Record<string, unknown> = {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: edsName },
    // grpc-js-xds knows ROUND_ROBIN and RING_HASH only; LEAST_REQUEST (the mesh's choice) becomes ROUND_ROBIN.
    lb_policy: policy?.loadBalancer?.simple === 'RING_HASH' ? 'RING_HASH' : 'ROUND_ROBIN',
  };
  const pool = policy?.connectionPool;
  if (pool?.tcp?.connectTimeout)
    cluster.connect_timeout = parseDuration(pool.tcp.connectTimeout, `${name} connectTimeout`);
  if (pool?.http?.http2MaxRequests !== undefined) {
    cluster.circuit_breakers = {
      thresholds: [{ priority: 'DEFAULT', max_requests: { value: pool.http.http2MaxRequests } }],
    };
  }
  const od = policy?.outlierDetection;
  if (od) {
    const threshold = options.failurePercentageThreshold ?? 50;
    cluster.outlier_detection = {
      // Envoy's consecutive-error ejection, kept for fidelity; gRPC ignores these fields.
      ...(od.consecutive5xxErrors !== undefined ? { consecutive_5xx: { value: od.consecutive5xxErrors } } : {}),
      ...(od.consecutiveGatewayErrors !== undefined
        ? { consecutive_gateway_failure: { value: od.consecutiveGatewayErrors } }
        : {}),
      ...(od.interval ? { interval: parseDuration(od.interval, `${name} outlierDetection.interval`) } : {}),
      ...(od.baseEjectionTime
        ? { base_ejection_time: parseDuration(od.baseEjectionTime, `${name} outlierDetection.baseEjectionTime`) }
        : {}),
      ...(od.maxEjectionPercent !== undefined ? { max_ejection_percent: { value: od.maxEjectionPercent } } : {}),
      // What gRPC does enforce: eject a host whose failure rate in the last interval is above the
      // threshold, once it served at least as many calls as the consecutive-error count, and only
      // while two or more hosts carry traffic (so the last host is never judged alone).
      enforcing_success_rate: { value: 0 },
      enforcing_failure_percentage: { value: 100 },
      failure_percentage_threshold: { value: threshold },
      failure_percentage_minimum_hosts: { value: 2 },
      failure_percentage_request_volume: {
        value: Math.max(
          1,
          Math.min(od.consecutive5xxErrors ?? 5, od.consecutiveGatewayErrors ?? Number.POSITIVE_INFINITY),
        ),
      },
    };
  }
  return cluster;
}

/**
 * The xDS resources for every in-mesh VirtualService: one Listener per host
 * and port (HttpConnectionManager with RDS, the fault filter and the router),
 * its RouteConfiguration, one EDS Cluster per destination with the matching
 * DestinationRule's policy, and a ClusterLoadAssignment from `endpoints`.
 */
export function translateMesh(policies: MeshPolicies, options: TranslateOptions): XdsResources {
  const generation = options.generation ?? 1;
  const { namespace } = options;
  const resources: XdsResources = {
    listeners: new Map(),
    routeConfigurations: new Map(),
    clusters: new Map(),
    clusterLoadAssignments: new Map(),
  };
  const ruleFor = (host: string) =>
    policies.destinationRules.find((rule) => fqdn(rule.host, namespace) === fqdn(host, namespace));

  for (const vs of policies.virtualServices) {
    const where = `VirtualService ${vs.name}`;
    const ports = new Set<number>();
    for (const route of vs.http) {
      for (const destination of route.route ?? []) {
        if (!destination.destination.port) throw new Error(`${where}: every destination needs port.number`);
        ports.add(destination.destination.port.number);
      }
    }
    for (const host of vs.hosts) {
      for (const port of ports) {
        const listener = listenerName(host, namespace, port);
        const routeName = `route|${listener}|g${generation}`;
        const routes = vs.http.flatMap((route, index) => {
          const destinations = route.route ?? [];
          if (destinations.length !== 1) {
            throw new Error(`${where} http[${index}]: exactly one destination translates (weighted splits do not)`);
          }
          const target = destinations[0]?.destination;
          if (!target?.port || target.port.number !== port) return [];
          const cluster = clusterName(target.host, namespace, port, generation);
          const eds = edsServiceName(target.host, namespace, port);
          if (!resources.clusters.has(cluster)) {
            resources.clusters.set(
              cluster,
              translateCluster(cluster, eds, ruleFor(target.host)?.trafficPolicy, options),
            );
            const endpoints = options.endpoints[target.host] ?? [];
            resources.clusterLoadAssignments.set(eds, clusterLoadAssignment(eds, endpoints));
          }
          return routeMatch(route, `${where} http[${index}]`).map(
            translateRoute(route, cluster, `${where} http[${index}]`),
          );
        });
        const name = fqdn(host, namespace);
        const short = host.split('.')[0] as string;
        resources.routeConfigurations.set(routeName, {
          name: routeName,
          virtual_hosts: [
            {
              name: listener,
              domains: [...new Set([listener, name, `${short}:${port}`, short, `${short}.${namespace}`])],
              routes,
            },
          ],
        });
        resources.listeners.set(listener, {
          name: listener,
          api_listener: {
            api_listener: {
              '@type': TYPE_URL.httpConnectionManager,
              rds: { route_config_name: routeName, config_source: { ads: {} } },
              // The same two filters in every generation: grpc-js-xds ignores a Listener update that
              // only changes http_filters. Faults are configured per route (typed_per_filter_config).
              http_filters: [
                { name: FAULT_FILTER_NAME, typed_config: { '@type': TYPE_URL.fault } },
                { name: 'envoy.filters.http.router', typed_config: { '@type': TYPE_URL.router } },
              ],
            },
          },
        });
      }
    }
  }
  return resources;
}

// ---------------------------------------------------------------- overrides

/**
 * Changes to the mesh policy for one host, in Istio's own vocabulary, for a
 * test scenario: route fields replace those of every route of the host's
 * VirtualService (null removes them); traffic policy fields are merged into
 * its DestinationRule.
 */
export interface PolicyOverride {
  fault?: IstioFault | null;
  retries?: IstioRetries | null;
  timeout?: string | null;
  outlierDetection?: IstioOutlierDetection | null;
  http2MaxRequests?: number;
}

/** Returns `policies` with `overrides` (keyed by host, e.g. "payment") applied; the input is not changed. */
export function applyPolicyOverrides(
  policies: MeshPolicies,
  overrides: Readonly<Record<string, PolicyOverride>>,
): MeshPolicies {
  for (const host of Object.keys(overrides)) {
    const known = policies.virtualServices.some((vs) => vs.hosts.includes(host));
    if (!known) throw new Error(`override for ${host}: no VirtualService in mesh/ has that host`);
  }
  const setOrDelete = <T extends object, K extends keyof T>(target: T, key: K, value: T[K] | null | undefined) => {
    if (value === undefined) return;
    if (value === null) delete target[key];
    else target[key] = value;
  };
  return {
    virtualServices: policies.virtualServices.map((vs) => {
      const override = vs.hosts.map((host) => overrides[host]).find(Boolean);
      if (!override) return vs;
      return {
        ...vs,
        http: vs.http.map((route) => {
          const changed: IstioHttpRoute = { ...route };
          setOrDelete(changed, 'fault', override.fault);
          setOrDelete(changed, 'retries', override.retries);
          setOrDelete(changed, 'timeout', override.timeout);
          return changed;
        }),
      };
    }),
    destinationRules: policies.destinationRules.map((rule) => {
      const override = overrides[rule.host];
      if (!override) return rule;
      const trafficPolicy: IstioTrafficPolicy = { ...rule.trafficPolicy };
      if (override.outlierDetection === null) delete trafficPolicy.outlierDetection;
      else if (override.outlierDetection)
        trafficPolicy.outlierDetection = { ...trafficPolicy.outlierDetection, ...override.outlierDetection };
      if (override.http2MaxRequests !== undefined) {
        const pool = trafficPolicy.connectionPool ?? {};
        trafficPolicy.connectionPool = { ...pool, http: { ...pool.http, http2MaxRequests: override.http2MaxRequests } };
      }
      return { ...rule, trafficPolicy };
    }),
  };
}
