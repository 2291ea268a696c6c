import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { AggregationType, type ViewOptions } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';

/** Seconds; from a cache hit (~1 ms) to a payment that waits out its timeout (a few s). */
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const secondsHistogram = (instrumentName: string): ViewOptions => ({
  instrumentName,
  aggregation: { type: AggregationType.EXPLICIT_BUCKET_HISTOGRAM, options: { boundaries: LATENCY_BUCKETS_SECONDS } },
});

/**
 * The Prometheus endpoint: METRICS_PORT (default 9464) on METRICS_HOST (all
 * interfaces by default; the dev platform binds loopback). OTEL_METRICS_EXPORTER=none
 * turns it off.
 */
function metricReaders(env: NodeJS.ProcessEnv) {
  if (env.OTEL_METRICS_EXPORTER === 'none') return [];
  const port = Number(env.METRICS_PORT ?? 9464);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`METRICS_PORT=${env.METRICS_PORT}: not a port`);
  return [new PrometheusExporter({ host: env.METRICS_HOST, port, withoutScopeInfo: true })];
}

/**
 * Starts the OpenTelemetry SDK. Everything else comes from the standard
 * OTEL_* variables, read by the SDK itself: OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS (W3C tracecontext and baggage by default).
 */
export function startSdk(instrumentations: Instrumentation[], env: NodeJS.ProcessEnv = process.env): NodeSDK {
  // The SDK's default exporter is OTLP to localhost:4318. With no endpoint configured, export nothing
  // rather than fail every batch; trace context still propagates, so logs and downstream services keep it.
  const endpointConfigured = env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!env.OTEL_TRACES_EXPORTER && !endpointConfigured) env.OTEL_TRACES_EXPORTER = 'none';
  const sdk = new NodeSDK({
    instrumentations,
    metricReaders: metricReaders(env),
    views: [
      secondsHistogram('rpc.server.call.duration'),
      secondsHistogram('messaging.process.duration'),
      secondsHistogram('messaging.client.operation.duration'),
    ],
  });
  sdk.start();
  return sdk;
}
