import {
  type Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from '@ordermesh/runtime';
import { AppError, invalidArgument, isTransientDatabaseError, secondsSince, serviceMeter } from '@ordermesh/runtime';
import { HealthImplementation } from 'grpc-health-check';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { protoFiles } from './descriptors.js';
import { EncodedMessage } from './pass-through.js';

/**
 * Request fields a caller vouches for with its signature, for calls whose
 * body must not be changed or replayed for another purpose (a charge's
 * order, card and amount). Compared field by field with the request.
 */
export type RequestBinding = Record<string, string | number>;

/** A verified calling service. */
export interface ServiceCaller {
  name: string;
  /** The request fields the caller signed, when it bound its token to one request. */
  binding?: RequestBinding;
}

/** Checks a call's caller before its handler runs; the method is the generated definition's key, e.g. `charge`. */
export type CallerAuthorizer<Method extends string> = (method: Method, metadata: Metadata) => Promise<ServiceCaller>;

/**
 * RPC latency, rate and errors per method and status (OpenTelemetry RPC
 * semantic conventions; Prometheus: rpc_server_call_duration_seconds_*).
 * The gRPC instrumentation makes the spans but no metrics, so they are taken here.
 */
const callDuration = serviceMeter('@ordermesh/grpc').createHistogram('rpc.server.call.duration', {
  description: 'Duration of unary gRPC calls handled by this server',
  unit: 's',
});

/** What a handler may know of the call besides the request. */
export interface CallContext {
  metadata: Metadata;
  /** The caller's deadline, or Infinity when it set none. */
  deadline: Date | number;
  /** The TCP peer, "host:port": the client itself, or the sidecar in the mesh (see the user service's login throttle). */
  peer: string;
  log: Logger;
  /** The verified calling service, on services bound with `authorize`. */
  caller?: ServiceCaller;
}

interface UnaryMethodDefinition<Req, Res> {
  path: string;
  requestStream: false;
  responseStream: false;
  requestDeserialize: (bytes: Buffer) => Req;
  responseSerialize: (value: Res) => Buffer;
}

/**
 * One async function per method of a generated ts-proto service definition.
 * A handler may answer with a message already encoded downstream (passThrough).
 */
export type UnaryHandlers<Definition> = {
  [Method in keyof Definition]: Definition[Method] extends UnaryMethodDefinition<infer Req, infer Res>
    ? (request: Req, context: CallContext) => Promise<Res | EncodedMessage<Res>>
    : never;
};

export interface ServiceBinding {
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/**
 * Binds async handlers to a generated service definition. Thrown AppErrors
 * become their status; anything else is logged with its stack and answered
 * with a bare INTERNAL. With `authorize`, every call must come from a
 * service allowed to make it (see @ordermesh/identity service-tokens.ts) before its handler runs.
 */
export function bindService<Definition extends Record<string, UnaryMethodDefinition<unknown, never>>>(
  definition: Definition,
  handlers: UnaryHandlers<Definition>,
  log: Logger,
  options: { authorize?: CallerAuthorizer<keyof Definition & string> } = {},
): ServiceBinding {
  const implementation: UntypedServiceImplementation = {};
  let serviceName = '';
  for (const [method, spec] of Object.entries(definition)) {
    serviceName = spec.path.split('/')[1] ?? '';
    const handle = handlers[method as keyof Definition] as (req: unknown, ctx: CallContext) => Promise<unknown>;
    const handler = (request: unknown, context: CallContext) =>
      request instanceof MalformedRequest
        ? Promise.reject(invalidArgument('request', `is not a valid protobuf message: ${request.reason}`))
        : handle(request, context);
    const methodLog = log.child({ rpc: spec.path });
    const record = callRecorder(spec.path);
    implementation[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const startedAt = performance.now();
      const context: CallContext = {
        metadata: call.metadata,
        deadline: call.getDeadline(),
        peer: call.getPeer(),
        log: methodLog,
      };
      const authorized = options.authorize
        ? options.authorize(method, call.metadata).then((caller) => handler(call.request, { ...context, caller }))
        : handler(call.request, context);
      authorized.then(
        (response) => {
          record(status.OK, startedAt);
          callback(null, response);
        },
        (error: unknown) => {
          if (error instanceof AppError) {
            methodLog.debug({ code: status[error.code], err: error.message }, 'call failed');
            record(error.code, startedAt);
            callback({ code: error.code, details: error.message });
          } else if (isTransientDatabaseError(error)) {
            methodLog.warn(
              { err: error },
              'database connection failed; answered UNAVAILABLE so the call can be retried',
            );
            record(status.UNAVAILABLE, startedAt);
            callback({ code: status.UNAVAILABLE, details: 'temporarily unavailable, try again' });
          } else {
            methodLog.error({ err: error }, 'unexpected error');
            record(status.INTERNAL, startedAt);
            callback({ code: status.INTERNAL, details: 'internal error' });
          }
        },
      );
    };
  }
  return { name: serviceName, definition: serverCodecs(definition), implementation };
}

/** What a request that does not decode becomes, so its call is answered by the handler wrapper above. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

/**
 * The definition with decoders that never throw: grpc-js answers a request
 * its decoder throws on with INTERNAL, but bytes that are not a valid message
 * are the caller's mistake, so they become a MalformedRequest and then
 * INVALID_ARGUMENT (after the caller check, when the service has one). Its
 * encoders send an EncodedMessage's bytes as they are.
 */
function serverCodecs(definition: Record<string, UnaryMethodDefinition<unknown, never>>): ServiceDefinition {
  const served: Record<string, UnaryMethodDefinition<unknown, unknown>> = {};
  for (const [method, spec] of Object.entries(definition)) {
    served[method] = {
      ...spec,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return spec.requestDeserialize(bytes);
        } catch (error) {
          return new MalformedRequest(error instanceof Error ? error.message : String(error));
        }
      },
      responseSerialize: (value: unknown) =>
        value instanceof EncodedMessage ? value.bytes : spec.responseSerialize(value as never),
    };
  }
  return served as unknown as ServiceDefinition;
}

/** Records one call of `path` ("/pkg.Service/Method"); attribute sets are made once per status, not per call. */
function callRecorder(path: string) {
  const byStatus = new Map<status, Record<string, string>>();
  return (code: status, startedAt: number) => {
    let attributes = byStatus.get(code);
    if (!attributes) {
      attributes = {
        'rpc.system.name': 'grpc',
        'rpc.method': path.slice(1),
        'rpc.response.status_code': status[code] ?? String(code),
      };
      byStatus.set(code, attributes);
    }
    callDuration.record(secondsSince(startedAt), attributes);
  };
}

/** Limits that keep one client from hogging a server. */
export const serverOptions = {
  'grpc.max_receive_message_length': 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.max_concurrent_streams': 256,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
  // grpc-js 1.14 does not enforce this yet (no GOAWAY for too many pings); kept for when it does.
  // The mesh sidecar is the ping-flood guard today: see docs/security.md.
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
} as const;

export interface RunningServer {
  port: number;
  health: HealthImplementation;
  /** Reports NOT_SERVING, stops taking calls, lets in-flight ones finish within `graceMs`, then cancels the rest. */
  shutdown(graceMs: number): Promise<void>;
}

/**
 * The files of proto/'s descriptor set, each as buf wrote it, for server
 * reflection. (proto-loader's loadFileDescriptorSetFromBuffer rebuilds them
 * through protobufjs and drops every file's imports, so that a reflection
 * client such as grpcurl or `npm run grpc` could not resolve Timestamp or Money.)
 */
function reflectedFiles(): ConstructorParameters<typeof ReflectionService>[0] {
  const fileDescriptorProtos = protoFiles().map((file) =>
    Buffer.from(descriptor.FileDescriptorProto.encode(file).finish()),
  );
  return {
    'proto/gen/descriptor-set.binpb': {
      format: 'Protocol Buffer 3 DescriptorProto',
      type: {},
      fileDescriptorProtos,
    },
  };
}

/**
 * Starts a gRPC server with the given services plus grpc.health.v1 and
 * server reflection. The health status of each service starts SERVING.
 */
export async function startGrpcServer(options: {
  host: string;
  port: number;
  services: ServiceBinding[];
  log: Logger;
}): Promise<RunningServer> {
  const server = new Server(serverOptions);
  const names = options.services.map((s) => s.name);
  const health = new HealthImplementation(Object.fromEntries(['', ...names].map((n) => [n, 'SERVING'] as const)));
  health.addToServer(server);
  new ReflectionService(reflectedFiles(), { services: names }).addToServer(server);
  for (const service of options.services) server.addService(service.definition, service.implementation);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host}:${options.port}`, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  options.log.info({ port, services: names }, 'gRPC server listening');

  return {
    port,
    health,
    async shutdown(graceMs) {
      for (const name of ['', ...names]) health.setStatus(name, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          options.log.warn({ graceMs }, 'grace period over, cancelling remaining calls');
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
