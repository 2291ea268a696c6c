/**
 * A local xDS control plane for tests and development (not for production):
 * it translates the Istio policies in mesh/ (tools/xds/translate.ts) and
 * serves them over ADS to services running in proxyless mode, with the
 * endpoints you give it.
 *
 * ```ts
 * import { startXdsControlPlane } from '../../tools/xds/control-plane.ts';
 *
 * const xds = await startXdsControlPlane({
 *   meshDir: join(ROOT, 'mesh'),
 *   namespace: 'ordermesh',
 *   endpoints: { payment: ['127.0.0.1:26003', '127.0.0.1:26013'], order: ['127.0.0.1:26002'] },
 *   port: 26050, // optional; any free port by default
 * });
 * const bootstrap = xds.writeBootstrap(stateDir); // file for GRPC_XDS_BOOTSTRAP
 * await platform.startService('order', {
 *   GRPC_XDS_BOOTSTRAP: bootstrap,
 *   PAYMENT_SERVICE_ADDR: xds.target('payment'), // xds:///payment.ordermesh.svc.cluster.local:50053
 * });
 * xds.setEndpoints('payment', ['127.0.0.1:26003']);                          // EDS update
 * xds.applyOverrides({ payment: { fault: { delay: { fixedDelay: '3s', percentage: { value: 100 } } } } });
 * await xds.settled();                                                       // every client has ACKed it
 * xds.applyOverrides({});                                                    // back to mesh/ as written
 * xds.nacks;                                                                 // rejected updates, if any
 * await xds.close();
 * ```
 *
 * Every applyOverrides publishes the policy under fresh RouteConfiguration and
 * Cluster names (a new "generation"), because grpc-js-xds ignores some
 * in-place updates; clients switch over on their next pick.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type GrpcObject,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import {
  applyPolicyOverrides,
  clusterLoadAssignment,
  edsServiceName,
  listenerName,
  type MeshPolicies,
  type PolicyOverride,
  readMeshPolicies,
  TYPE_URL,
  translateMesh,
  type XdsResources,
} from './translate.ts';

export const DEFAULT_MESH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../mesh');

export interface XdsControlPlaneOptions {
  /** Directory of the Istio manifests; mesh/ of this repository by default. */
  meshDir?: string;
  /** Kubernetes namespace the listener names carry; "ordermesh" by default. */
  namespace?: string;
  /** Addresses ("127.0.0.1:26003") per service host ("payment"). */
  endpoints: Record<string, readonly string[]>;
  /** Port on 127.0.0.1; any free port by default. */
  port?: number;
  /** See TranslateOptions.failurePercentageThreshold; 50 by default. */
  failurePercentageThreshold?: number;
}

/** A rejected update as the client reported it (error_detail of a DiscoveryRequest). */
export interface Nack {
  typeUrl: string;
  message: string;
}

export interface XdsControlPlane {
  /** host:port of the ADS server. */
  address: string;
  /** The policy generation being served; bumped by applyOverrides. */
  readonly generation: number;
  /** Updates that clients rejected. A test asserting on policy should expect none. */
  readonly nacks: readonly Nack[];
  /**
   * Resolves once every connected client has acknowledged (or rejected: see
   * `nacks`) everything sent to it, so a policy change is in force before the
   * next call. Calls made right after applyOverrides may still see the old one.
   * Rejects after `timeoutMs` (10 s by default).
   */
  settled(timeoutMs?: number): Promise<void>;
  /** How many ADS streams (client processes or channels) are connected now. */
  readonly clients: number;
  /** The `xds:///...` target a client uses for `host` ("payment"). */
  target(host: string): string;
  /**
   * Writes a gRPC xDS bootstrap file pointing at this control plane into
   * `dir` (as grpc-bootstrap.json, the name Istio's grpc-agent uses) and
   * returns its path, for GRPC_XDS_BOOTSTRAP.
   */
  writeBootstrap(dir: string): string;
  /** Replaces the endpoints of one service host and pushes the ClusterLoadAssignment. */
  setEndpoints(host: string, addresses: readonly string[]): void;
  /** Serves mesh/ with these overrides (replacing earlier ones) as a new generation; {} goes back to mesh/ as written. */
  applyOverrides(overrides: Readonly<Record<string, PolicyOverride>>): void;
  /** The resources currently served (for inspection and debugging). */
  resources(): XdsResources;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const XDS_PACKAGE = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));

/** The Envoy protos shipped inside @grpc/grpc-js-xds, with every type a resource embeds in an Any. */
function loadAdsService(): ServiceClientConstructor {
  const definition = loadSync(
    [
      'envoy/service/discovery/v3/ads.proto',
      'envoy/config/listener/v3/listener.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/fault/v3/fault.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
    ],
    {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
      includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((dir) =>
        join(XDS_PACKAGE, 'deps', dir),
      ),
    },
  );
  const root = loadPackageDefinition(definition) as unknown as {
    envoy: { service: { discovery: { v3: GrpcObject } } };
  };
  return root.envoy.service.discovery.v3.AggregatedDiscoveryService as ServiceClientConstructor;
}

interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string };
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

interface DiscoveryResponse {
  version_info: string;
  resources: Record<string, unknown>[];
  type_url: string;
  nonce: string;
}

/** What one ADS stream has asked for, and what it was last sent, per type. */
interface StreamState {
  call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  subscriptions: Map<string, Set<string>>;
  sentVersion: Map<string, string>;
  /** Per type, the nonce of our last response and the nonce the client last answered (ACK or NACK). */
  sentNonce: Map<string, string>;
  answeredNonce: Map<string, string>;
  nonce: number;
}

const RESOURCE_KINDS: readonly [string, keyof XdsResources][] = [
  [TYPE_URL.listener, 'listeners'],
  [TYPE_URL.routeConfiguration, 'routeConfigurations'],
  [TYPE_URL.cluster, 'clusters'],
  [TYPE_URL.clusterLoadAssignment, 'clusterLoadAssignments'],
];

/** The cluster names the routes of a RouteConfiguration send calls to. */
function clustersOf(routeConfiguration: Record<string, unknown>): string[] {
  const virtualHosts = (routeConfiguration.virtual_hosts ?? []) as { routes?: { route?: { cluster?: string } }[] }[];
  return virtualHosts.flatMap((host) => (host.routes ?? []).flatMap((route) => route.route?.cluster ?? []));
}

/** Starts the control plane; see the example at the top of this file. */
export async function startXdsControlPlane(options: XdsControlPlaneOptions): Promise<XdsControlPlane> {
  const namespace = options.namespace ?? 'ordermesh';
  const mesh: MeshPolicies = readMeshPolicies(options.meshDir ?? DEFAULT_MESH_DIR);
  const endpoints: Record<string, readonly string[]> = { ...options.endpoints };
  let overrides: Readonly<Record<string, PolicyOverride>> = {};
  let generation = 1;
  /** version_info of what is served; bumped by every change. */
  let version = 1;
  let current: XdsResources = translate();
  const streams = new Set<StreamState>();
  const nacks: Nack[] = [];

  function translate(): XdsResources {
    return translateMesh(applyPolicyOverrides(mesh, overrides), {
      namespace,
      endpoints,
      generation,
      failurePercentageThreshold: options.failurePercentageThreshold,
    });
  }

  const portOf = (host: string) => {
    const listener = [...current.listeners.keys()].find((name) => name.startsWith(`${host}.${namespace}.`));
    if (!listener) throw new Error(`no VirtualService in mesh/ routes host ${JSON.stringify(host)}`);
    return Number(listener.slice(listener.lastIndexOf(':') + 1));
  };

  function respond(stream: StreamState, typeUrl: string) {
    const names = stream.subscriptions.get(typeUrl);
    const kind = RESOURCE_KINDS.find(([url]) => url === typeUrl)?.[1];
    if (!names || !kind) return;
    const table = current[kind];
    // State of the world: every subscribed resource that exists. An absent Listener or Cluster tells
    // the client it does not exist.
    const resources = [...names].flatMap((name) => {
      const resource = table.get(name);
      return resource ? [{ '@type': typeUrl, ...resource }] : [];
    });
    stream.nonce += 1;
    stream.sentVersion.set(typeUrl, String(version));
    stream.sentNonce.set(typeUrl, String(stream.nonce));
    stream.call.write({ version_info: String(version), resources, type_url: typeUrl, nonce: String(stream.nonce) });
  }

  function publish() {
    version += 1;
    for (const stream of streams) for (const typeUrl of stream.subscriptions.keys()) respond(stream, typeUrl);
  }

  const implementation = {
    StreamAggregatedResources(call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) {
      const stream: StreamState = {
        call,
        subscriptions: new Map(),
        sentVersion: new Map(),
        sentNonce: new Map(),
        answeredNonce: new Map(),
        nonce: 0,
      };
      streams.add(stream);
      call.on('data', (request: DiscoveryRequest) => {
        const typeUrl = request.type_url ?? '';
        if (request.error_detail?.message) nacks.push({ typeUrl, message: request.error_detail.message });
        if (request.response_nonce) stream.answeredNonce.set(typeUrl, request.response_nonce);
        const names = new Set(request.resource_names ?? []);
        const before = stream.subscriptions.get(typeUrl);
        const changed = !before || before.size !== names.size || [...names].some((name) => !before.has(name));
        stream.subscriptions.set(typeUrl, names);
        // An ACK or NACK of what we last sent, for the same names, needs no answer.
        if (changed || stream.sentVersion.get(typeUrl) !== String(version)) respond(stream, typeUrl);
      });
      const forget = () => streams.delete(stream);
      call.on('end', () => {
        forget();
        call.end();
      });
      call.on('error', forget);
      call.on('cancelled', forget);
    },
  };

  const server = new Server();
  server.addService(loadAdsService().service, implementation);
  const port = await new Promise<number>((done, fail) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? fail(error) : done(bound),
    ),
  );
  const address = `127.0.0.1:${port}`;

  return {
    address,
    get generation() {
      return generation;
    },
    nacks,
    get clients() {
      return streams.size;
    },
    async settled(timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      // Pending while a response is unanswered, while a client still subscribes to a route
      // configuration of an older generation, or has yet to subscribe to the clusters its current
      // routes name. (Old clusters may stay subscribed a while: grpc-js-xds drops them lazily.)
      const subscribed = (stream: StreamState, typeUrl: string) => stream.subscriptions.get(typeUrl) ?? new Set();
      const following = (stream: StreamState) =>
        [...subscribed(stream, TYPE_URL.routeConfiguration)].every((name) => {
          const routeConfiguration = current.routeConfigurations.get(name);
          return (
            routeConfiguration &&
            clustersOf(routeConfiguration).every((c) => subscribed(stream, TYPE_URL.cluster).has(c))
          );
        });
      const pending = () =>
        [...streams].some(
          (stream) =>
            [...stream.sentNonce].some(([typeUrl, nonce]) => stream.answeredNonce.get(typeUrl) !== nonce) ||
            !following(stream),
        );
      while (pending()) {
        if (Date.now() > until) {
          const detail = [...streams].map((stream) =>
            [...stream.subscriptions].map(
              ([typeUrl, names]) =>
                `${typeUrl.slice(typeUrl.lastIndexOf('.') + 1)} [${[...names].join(' ')}] sent ${stream.sentNonce.get(typeUrl)} answered ${stream.answeredNonce.get(typeUrl)}`,
            ),
          );
          throw new Error(
            `xDS clients did not settle on version ${version} within ${timeoutMs} ms: ${JSON.stringify(detail)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    target: (host) => `xds:///${listenerName(host, namespace, portOf(host))}`,
    writeBootstrap(dir) {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'grpc-bootstrap.json');
      const bootstrap = {
        xds_servers: [{ server_uri: address, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
        // Istio's grpc-agent writes node ids of this shape; this control plane does not look at them.
        node: { id: `sidecar~127.0.0.1~local.${namespace}~${namespace}.svc.cluster.local`, locality: {} },
      };
      writeFileSync(file, `${JSON.stringify(bootstrap, null, 2)}\n`);
      return file;
    },
    setEndpoints(host, addresses) {
      const name = edsServiceName(host, namespace, portOf(host));
      current.clusterLoadAssignments.set(name, clusterLoadAssignment(name, addresses));
      endpoints[host] = [...addresses];
      publish();
    },
    applyOverrides(next) {
      const previous = { overrides, generation };
      overrides = next;
      generation += 1;
      try {
        current = translate();
      } catch (error) {
        ({ overrides, generation } = previous);
        throw error;
      }
      publish();
    },
    resources: () => current,
    async close() {
      for (const stream of streams) stream.call.end();
      streams.clear();
      // Not tryShutdown: an idle client connection (grpc-js-xds keeps one to its control plane) would
      // hold it open, and with it the process.
      server.forceShutdown();
    },
  };
}
