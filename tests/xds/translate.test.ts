/**
 * The mesh/ to xDS translation (tools/xds/translate.ts), on the real mesh/
 * manifests. Expectations are read from the manifests themselves, so the test
 * follows a policy change instead of pinning today's numbers.
 */
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '@ordermesh/dev/platform';
import fc from 'fast-check';
import {
  applyPolicyOverrides,
  durationMs,
  FAULT_FILTER_NAME,
  listenerName,
  parseDuration,
  readMeshPolicies,
  TYPE_URL,
  translateFault,
  translateMesh,
} from '../../tools/xds/translate.ts';

const mesh = readMeshPolicies(join(ROOT, 'mesh'));
const endpoints = { payment: ['127.0.0.1:1001', '127.0.0.1:1002'], order: ['127.0.0.1:1003'] };
const resources = translateMesh(mesh, { namespace: 'ordermesh', endpoints });

type Json = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Record<string | number, unknown> | undefined)?.[key], value);

/** The route action of the catch-all route (no uri match) of a host's listener. */
function catchAllRoute(host: string) {
  const vs = mesh.virtualServices.find((v) => v.hosts.includes(host));
  const port = vs?.http[0]?.route[0]?.destination.port?.number ?? 0;
  const listener = resources.listeners.get(listenerName(host, 'ordermesh', port));
  const routeName = at(listener, 'api_listener', 'api_listener', 'rds', 'route_config_name') as string;
  const routes = at(resources.routeConfigurations.get(routeName), 'virtual_hosts', 0, 'routes') as Json[];
  const istio = vs?.http.find((route) => !route.match);
  return { istio, route: routes.find((route) => at(route, 'match', 'prefix') === ''), listener };
}

describe('mesh/ as xDS resources', () => {
  it('finds the in-mesh VirtualServices and every DestinationRule, not the ingress route', () => {
    const hosts = mesh.virtualServices.flatMap((vs) => vs.hosts).sort();
    expect(hosts).toEqual(['notification', 'order', 'payment', 'user']);
    expect(mesh.destinationRules.map((rule) => rule.host).sort()).toEqual(hosts);
    expect([...resources.listeners.keys()].sort()).toEqual(
      mesh.virtualServices
        .map((vs) =>
          listenerName(vs.hosts[0] as string, 'ordermesh', vs.http[0]?.route[0]?.destination.port?.number ?? 0),
        )
        .sort(),
    );
  });

  it('makes each listener an HttpConnectionManager api_listener with RDS, the fault filter and the router last', () => {
    for (const listener of resources.listeners.values()) {
      const hcm = at(listener, 'api_listener', 'api_listener') as Json;
      expect(hcm['@type']).toBe(TYPE_URL.httpConnectionManager);
      expect(resources.routeConfigurations.has(at(hcm, 'rds', 'route_config_name') as string)).toBe(true);
      const filters = hcm.http_filters as Json[];
      expect(filters.map((filter) => at(filter, 'typed_config', '@type'))).toEqual([TYPE_URL.fault, TYPE_URL.router]);
    }
  });

  it('carries each route timeout (as max_stream_duration too) and its retry policy', () => {
    for (const host of ['payment', 'order', 'user', 'notification']) {
      const { istio, route } = catchAllRoute(host);
      if (!istio?.timeout || !istio.retries) throw new Error(`mesh/ ${host}: expected a timeout and retries`);
      const timeout = parseDuration(istio.timeout);
      expect(at(route, 'route', 'timeout')).toEqual(timeout);
      expect(at(route, 'route', 'max_stream_duration')).toEqual({
        max_stream_duration: timeout,
        grpc_timeout_header_max: timeout,
      });
      expect(at(route, 'route', 'retry_policy', 'num_retries')).toEqual({ value: istio.retries.attempts });
      expect(at(route, 'route', 'retry_policy', 'retry_on')).toBe(istio.retries.retryOn);
      expect(at(route, 'route', 'retry_policy', 'retry_back_off', 'base_interval')).toEqual({
        seconds: 0,
        nanos: 25e6,
      });
    }
  });

  it('keeps UserService/Login on its own route with its own retry conditions', () => {
    const login = '/ordermesh.user.v1.UserService/Login';
    const { listener } = catchAllRoute('user');
    const routeName = at(listener, 'api_listener', 'api_listener', 'rds', 'route_config_name') as string;
    const routes = at(resources.routeConfigurations.get(routeName), 'virtual_hosts', 0, 'routes') as Json[];
    const istio = mesh.virtualServices.find((vs) => vs.hosts.includes('user'))?.http.find((r) => r.match);
    expect(at(routes[0], 'match', 'path')).toBe(login);
    expect(at(routes[0], 'route', 'retry_policy', 'retry_on')).toBe(istio?.retries?.retryOn);
    expect(at(routes[1], 'match', 'prefix')).toBe('');
  });

  it('turns each DestinationRule into an EDS cluster with max_requests and failure-percentage outlier detection', () => {
    for (const rule of mesh.destinationRules) {
      const cluster = [...resources.clusters.values()].find((c) =>
        String(c.name).endsWith(`||${rule.host}.ordermesh.svc.cluster.local|g1`),
      );
      if (!cluster) throw new Error(`no cluster for ${rule.host}`);
      const pool = rule.trafficPolicy.connectionPool;
      const od = rule.trafficPolicy.outlierDetection;
      if (!pool?.http?.http2MaxRequests || !od?.interval || !od.baseEjectionTime)
        throw new Error(`mesh/ ${rule.host}: incomplete`);
      expect(cluster.type).toBe('EDS');
      expect(cluster.lb_policy).toBe('ROUND_ROBIN');
      expect(at(cluster, 'circuit_breakers', 'thresholds', 0)).toEqual({
        priority: 'DEFAULT',
        max_requests: { value: pool.http.http2MaxRequests },
      });
      expect(cluster.outlier_detection).toMatchObject({
        interval: parseDuration(od.interval),
        base_ejection_time: parseDuration(od.baseEjectionTime),
        max_ejection_percent: { value: od.maxEjectionPercent },
        enforcing_success_rate: { value: 0 },
        enforcing_failure_percentage: { value: 100 },
        failure_percentage_threshold: { value: 50 },
        failure_percentage_minimum_hosts: { value: 2 },
      });
      const edsName = at(cluster, 'eds_cluster_config', 'service_name') as string;
      const assignment = resources.clusterLoadAssignments.get(edsName);
      const lbEndpoints = at(assignment, 'endpoints', 0, 'lb_endpoints') as Json[];
      const expected = endpoints[rule.host as keyof typeof endpoints] ?? [];
      expect(lbEndpoints.map((e) => at(e, 'endpoint', 'address', 'socket_address'))).toEqual(
        expected.map((address) => ({ address: '127.0.0.1', port_value: Number(address.split(':')[1]) })),
      );
    }
  });

  it('publishes a new generation under fresh route and cluster names but the same listener names', () => {
    const next = translateMesh(mesh, { namespace: 'ordermesh', endpoints, generation: 2 });
    expect([...next.listeners.keys()]).toEqual([...resources.listeners.keys()]);
    for (const name of next.clusters.keys()) expect(resources.clusters.has(name)).toBe(false);
    for (const name of next.routeConfigurations.keys()) expect(resources.routeConfigurations.has(name)).toBe(false);
    expect([...next.clusterLoadAssignments.keys()]).toEqual([...resources.clusterLoadAssignments.keys()]);
  });
});

describe('overrides for test scenarios', () => {
  it('adds a fault to every route of a host as a per-route HTTPFault', () => {
    const changed = applyPolicyOverrides(mesh, {
      payment: { fault: { delay: { fixedDelay: '3s', percentage: { value: 50 } } } },
    });
    const route = at(
      [...translateMesh(changed, { namespace: 'ordermesh', endpoints }).routeConfigurations.values()].find((r) =>
        String(r.name).includes('payment'),
      ),
      'virtual_hosts',
      0,
      'routes',
      0,
    );
    expect(at(route, 'typed_per_filter_config', FAULT_FILTER_NAME)).toEqual({
      '@type': TYPE_URL.fault,
      delay: { fixed_delay: { seconds: 3, nanos: 0 }, percentage: { numerator: 500_000, denominator: 'MILLION' } },
    });
    // The input is left alone.
    expect(mesh.virtualServices.find((vs) => vs.hosts.includes('payment'))?.http[0]?.fault).toBeUndefined();
  });

  it('removes retries and merges outlier detection settings', () => {
    const changed = applyPolicyOverrides(mesh, {
      payment: { retries: null, outlierDetection: { interval: '1s' }, http2MaxRequests: 3 },
    });
    const vs = changed.virtualServices.find((v) => v.hosts.includes('payment'));
    const rule = changed.destinationRules.find((r) => r.host === 'payment');
    const original = mesh.destinationRules.find((r) => r.host === 'payment');
    expect(vs?.http.every((route) => route.retries === undefined)).toBe(true);
    expect(rule?.trafficPolicy.outlierDetection).toEqual({
      ...original?.trafficPolicy.outlierDetection,
      interval: '1s',
    });
    expect(rule?.trafficPolicy.connectionPool?.http?.http2MaxRequests).toBe(3);
  });

  it('names the unknown host', () => {
    expect(() => applyPolicyOverrides(mesh, { paymnet: { timeout: '1s' } })).toThrow('override for paymnet');
  });

  it('translates a gRPC abort and rejects an unknown status', () => {
    expect(translateFault({ abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, 'test')).toEqual({
      abort: { grpc_status: 14, percentage: { numerator: 1_000_000, denominator: 'MILLION' } },
    });
    expect(() => translateFault({ abort: { grpcStatus: 'BROKEN' } }, 'vs payment')).toThrow(
      'vs payment fault.abort.grpcStatus BROKEN: not a gRPC status name',
    );
  });
});

describe('durations', () => {
  it('writes fractions as nanos, never as a string grpc-js could misread', () => {
    expect(parseDuration('0.2s')).toEqual({ seconds: 0, nanos: 200_000_000 });
    expect(parseDuration('2.5s')).toEqual({ seconds: 2, nanos: 500_000_000 });
    expect(parseDuration('1m')).toEqual({ seconds: 60, nanos: 0 });
    expect(() => parseDuration('5 seconds', 'timeout')).toThrow('timeout: "5 seconds" is not a duration');
  });

  it('round-trips any whole number of milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400_000 }), (ms) => {
        const duration = parseDuration(`${ms}ms`);
        return durationMs(duration) === ms && duration.nanos < 1e9 && duration.nanos >= 0;
      }),
    );
  });
});
