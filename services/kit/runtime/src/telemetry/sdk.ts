/**
 * The OpenTelemetry SDK, assembled from its parts rather than through
 * @opentelemetry/sdk-node: NodeSDK imports every exporter it could be asked
 * for (OTLP over three protocols for traces, metrics and logs, Zipkin, B3) and
 * starts a logs pipeline to localhost:4318 nobody uses. Loading all that cost
 * ~10 MiB of RSS per process (docs/performance.md); here a trace exporter is
 * imported only when OTEL_TRACES_EXPORTER asks for it.
 */
import {
  context,
  DiagConsoleLogger,
  diag,
  metrics,
  propagation,
  type TextMapPropagator,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  diagLogLevelFromString,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  serviceInstanceIdDetector,
} from '@opentelemetry/resources';
import { AggregationType, MeterProvider, type ViewOptions } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ConfigError } from '../config.js';

/** Seconds; from a cache hit (~1 ms) to a payment that waits out its timeout (a few s). */
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const secondsHistogram = (instrumentName: string): ViewOptions => ({
  instrumentName,
  aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: LATENCY_BUCKETS_SECONDS } },
});

const VIEWS = [
  secondsHistogram('rpc.server.call.duration'),
  secondsHistogram('messaging.process.duration'),
  secondsHistogram('messaging.client.operation.duration'),
];

type Env = NodeJS.ProcessEnv;

/** A comma-separated OTEL_* list, each name once. */
const list = (value: string | undefined): string[] => [
  ...new Set(
    (value ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
];

const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];
export type TraceExporterChoice = { kind: 'console' } | { kind: 'otlp'; protocol: OtlpProtocol };

/**
 * Where spans go, from OTEL_TRACES_EXPORTER (otlp, console or none). Unset means otlp when an
 * OTLP endpoint is configured and none otherwise: without a collector every batch would fail,
 * and trace context propagates either way, so logs and downstream services keep it.
 */
export function traceExportersFromEnv(env: Env): TraceExporterChoice[] {
  const endpointConfigured = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const names = list(env.OTEL_TRACES_EXPORTER);
  if (names.length === 0) names.push(endpointConfigured ? 'otlp' : 'none');
  if (names.includes('none')) {
    if (names.length > 1) throw new ConfigError(`OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: "none" with others`);
    return [];
  }
  return names.map((name): TraceExporterChoice => {
    if (name === 'console') return { kind: 'console' };
    if (name !== 'otlp') {
      throw new ConfigError(
        `OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: "${name}" is not one of otlp, console, none`,
      );
    }
    const variable = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    const protocol = (env[variable] ?? 'http/protobuf').trim();
    if (!(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
      throw new ConfigError(`${variable}=${protocol}: not one of ${OTLP_PROTOCOLS.join(', ')}`);
    }
    return { kind: 'otlp', protocol: protocol as OtlpProtocol };
  });
}

/** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; unset means the SDK's default (parent-based, always on). */
export function samplerFromEnv(env: Env): Sampler | undefined {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  if (!name) return undefined;
  const ratio = () => {
    const text = env.OTEL_TRACES_SAMPLER_ARG?.trim() ?? '';
    const value = text === '' ? 1 : Number(text);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG=${text}: a ratio from 0 to 1 is needed by ${name}`);
    }
    return value;
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new ConfigError(`OTEL_TRACES_SAMPLER=${name}: not a sampler this SDK knows`);
  }
}

/** The OTEL_BSP_* settings of the batch span processor, each a positive number of spans or milliseconds. */
export function batchSettingsFromEnv(env: Env) {
  const positive = (variable: string) => {
    const text = env[variable]?.trim();
    if (!text) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value <= 0)
      throw new ConfigError(`${variable}=${text}: a whole number > 0 is needed`);
    return value;
  };
  return {
    maxQueueSize: positive('OTEL_BSP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: positive('OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    scheduledDelayMillis: positive('OTEL_BSP_SCHEDULE_DELAY'),
    exportTimeoutMillis: positive('OTEL_BSP_EXPORT_TIMEOUT'),
  };
}

/** OTEL_PROPAGATORS: tracecontext, baggage, b3, b3multi or none; W3C tracecontext and baggage by default. */
async function propagatorFromEnv(env: Env): Promise<TextMapPropagator | null> {
  const names = list(env.OTEL_PROPAGATORS);
  if (names.length === 0) names.push('tracecontext', 'baggage');
  if (names.includes('none')) return null;
  const propagators: TextMapPropagator[] = [];
  for (const name of names) {
    if (name === 'tracecontext') propagators.push(new W3CTraceContextPropagator());
    else if (name === 'baggage') propagators.push(new W3CBaggagePropagator());
    else if (name === 'b3' || name === 'b3multi') {
      const { B3InjectEncoding, B3Propagator } = await import('@opentelemetry/propagator-b3');
      const injectEncoding = name === 'b3' ? B3InjectEncoding.SINGLE_HEADER : B3InjectEncoding.MULTI_HEADER;
      propagators.push(new B3Propagator({ injectEncoding }));
    } else {
      throw new ConfigError(
        `OTEL_PROPAGATORS=${env.OTEL_PROPAGATORS}: "${name}" is not one of tracecontext, baggage, b3, b3multi, none`,
      );
    }
  }
  return new CompositePropagator({ propagators });
}

/** The OTLP exporter of one protocol; each reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself. */
async function otlpExporter(protocol: OtlpProtocol): Promise<SpanExporter> {
  switch (protocol) {
    case 'http/protobuf':
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    case 'http/json':
      return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
    case 'grpc':
      return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
  }
}

async function spanProcessorsFromEnv(env: Env): Promise<SpanProcessor[]> {
  const batch = batchSettingsFromEnv(env);
  const processors: SpanProcessor[] = [];
  for (const choice of traceExportersFromEnv(env)) {
    if (choice.kind === 'console') processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else processors.push(new BatchSpanProcessor({ exporter: await otlpExporter(choice.protocol), ...batch }));
  }
  return processors;
}

/**
 * The Prometheus endpoint: METRICS_PORT (default 9464) on METRICS_HOST (all
 * interfaces by default; the dev platform binds loopback). OTEL_METRICS_EXPORTER=none
 * turns it off.
 */
function metricReaders(env: Env) {
  if (env.OTEL_METRICS_EXPORTER === 'none') return [];
  const port = Number(env.METRICS_PORT ?? 9464);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`METRICS_PORT=${env.METRICS_PORT}: not a port`);
  return [new PrometheusExporter({ host: env.METRICS_HOST, port, withoutScopeInfo: true })];
}

export interface RunningSdk {
  shutdown(): Promise<void>;
}

/**
 * Starts tracing and metrics, configured by the standard variables: OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*,
 * OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_PROPAGATORS and OTEL_LOG_LEVEL. A value it
 * cannot use stops the process with an error naming the variable. `env` is what this module
 * reads; the resource detectors and the OTLP exporters read process.env themselves.
 */
export async function startSdk(instrumentations: Instrumentation[], env: Env = process.env): Promise<RunningSdk> {
  // Everything is read and checked before anything is registered, so a bad value leaves nothing half set up.
  const sampler = samplerFromEnv(env);
  const spanProcessors = await spanProcessorsFromEnv(env);
  const propagator = await propagatorFromEnv(env);
  const readers = metricReaders(env);
  if (env.OTEL_LOG_LEVEL)
    diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(env.OTEL_LOG_LEVEL) });

  registerInstrumentations({ instrumentations });
  const contextManager = new AsyncLocalStorageContextManager();
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  if (propagator) propagation.setGlobalPropagator(propagator);
  const resource = defaultResource().merge(
    detectResources({ detectors: [serviceInstanceIdDetector, processDetector, hostDetector, osDetector, envDetector] }),
  );

  const providers: Array<{ shutdown(): Promise<void> }> = [];
  if (readers.length > 0) {
    const meterProvider = new MeterProvider({ resource, views: VIEWS, readers });
    metrics.setGlobalMeterProvider(meterProvider);
    for (const instrumentation of instrumentations) instrumentation.setMeterProvider(meterProvider);
    providers.push(meterProvider);
  }
  // No exporter, no tracer provider: spans are then non-recording, but incoming trace context still propagates.
  if (spanProcessors.length > 0) {
    const tracerProvider = new TracerProvider({ resource, spanProcessors, ...(sampler ? { sampler } : {}) });
    trace.setGlobalTracerProvider(tracerProvider);
    providers.push(tracerProvider);
  }
  return { shutdown: async () => void (await Promise.all(providers.map((provider) => provider.shutdown()))) };
}
