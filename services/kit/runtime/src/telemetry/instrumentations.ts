import type { Instrumentation } from '@opentelemetry/instrumentation';
import { AmqplibInstrumentation } from '@opentelemetry/instrumentation-amqplib';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { consumeSpanAttributes, publishSpanAttributes } from './messaging-spans.js';

/** The packages the instrumentations patch: only these go through the ESM loader hook. */
export const INSTRUMENTED_PACKAGES = ['@grpc/grpc-js', 'pg', 'pg-pool', 'ioredis', 'amqplib'];

/**
 * The instrumentations every service runs. Creating them enables them, which
 * installs their module hooks, so this must happen before any instrumented
 * package is first loaded.
 */
export function createInstrumentations(): Instrumentation[] {
  return [
    new GrpcInstrumentation({
      // Probes and reflection every few seconds would drown the real traffic.
      ignoreGrpcMethods: ['Check', 'Watch', 'ServerReflectionInfo'],
    }),
    // Only inside a traced request: the outbox relay polls every 500 ms and would otherwise start a trace per poll.
    // No pg-pool.connect/pg.connect spans: every statement on the pool checks a connection out, which doubled
    // the spans per query and told nothing the query span does not (pool metrics are still recorded).
    new PgInstrumentation({ requireParentSpan: true, enhancedDatabaseReporting: false, ignoreConnectSpans: true }),
    new IORedisInstrumentation({ requireParentSpan: true }),
    new AmqplibInstrumentation({
      publishHook: (span, info) =>
        span.setAttributes(publishSpanAttributes(info.exchange, info.routingKey, info.options)),
      consumeHook: (span, info) => span.setAttributes(consumeSpanAttributes(info.msg)),
    }),
    new RuntimeNodeInstrumentation({ monitoringPrecision: 5_000 }),
  ];
}
