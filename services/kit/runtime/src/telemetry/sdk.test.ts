import { describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { ConfigError } from '../config.js';
import { batchSettingsFromEnv, samplerFromEnv, startSdk, traceExportersFromEnv } from './sdk.js';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/** The sampler's decision for a root span of TRACE_ID. */
const decide = (env: NodeJS.ProcessEnv) =>
  samplerFromEnv(env)?.shouldSample(ROOT_CONTEXT, TRACE_ID, 'span', SpanKind.SERVER, {}, []).decision;

describe('traceExportersFromEnv', () => {
  it('exports nothing when neither an exporter nor an endpoint is set', () => {
    expect(traceExportersFromEnv({})).toEqual([]);
  });

  it('exports over OTLP (http/protobuf) once an endpoint is set', () => {
    expect(traceExportersFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual([
      { kind: 'otlp', protocol: 'http/protobuf' },
    ]);
  });

  it('takes the traces protocol over the general one', () => {
    const env = {
      OTEL_TRACES_EXPORTER: 'otlp,console',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
    };
    expect(traceExportersFromEnv(env)).toEqual([{ kind: 'otlp', protocol: 'http/json' }, { kind: 'console' }]);
  });

  it('names the variable of an unknown exporter or protocol', () => {
    expect(() => traceExportersFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(
      new ConfigError('OTEL_TRACES_EXPORTER=zipkin: "zipkin" is not one of otlp, console, none'),
    );
    expect(() => traceExportersFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' })).toThrow(
      /^OTEL_EXPORTER_OTLP_PROTOCOL=udp: not one of http\/protobuf, http\/json, grpc$/,
    );
  });
});

describe('samplerFromEnv', () => {
  it('leaves the default when unset', () => {
    expect(samplerFromEnv({})).toBeUndefined();
  });

  it('samples by trace id ratio at the root', () => {
    expect(decide({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' })).toBe(
      SamplingDecision.NOT_RECORD,
    );
    expect(decide({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' })).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
    expect(decide({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe(SamplingDecision.NOT_RECORD);
  });

  it('names the variable of an unknown sampler or a ratio out of range', () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(
      /^OTEL_TRACES_SAMPLER=sometimes: not a sampler/,
    );
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(
      /^OTEL_TRACES_SAMPLER_ARG=1.5: a ratio from 0 to 1/,
    );
  });
});

describe('batchSettingsFromEnv', () => {
  it('reads the OTEL_BSP_* variables and rejects what is not a positive whole number', () => {
    expect(batchSettingsFromEnv({ OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_BSP_MAX_QUEUE_SIZE: '4096' })).toEqual({
      maxQueueSize: 4096,
      maxExportBatchSize: undefined,
      scheduledDelayMillis: 100,
      exportTimeoutMillis: undefined,
    });
    expect(() => batchSettingsFromEnv({ OTEL_BSP_EXPORT_TIMEOUT: '-1' })).toThrow(/^OTEL_BSP_EXPORT_TIMEOUT=-1:/);
  });
});

describe('startSdk', () => {
  it('registers nothing when a setting is bad', async () => {
    const before = trace.getTracerProvider();
    await expect(
      startSdk([], { OTEL_TRACES_EXPORTER: 'console', OTEL_PROPAGATORS: 'jaeger', OTEL_METRICS_EXPORTER: 'none' }),
    ).rejects.toThrow(/^OTEL_PROPAGATORS=jaeger: "jaeger" is not one of/);
    expect(trace.getTracerProvider()).toBe(before);
  });

  it('starts spans under the configured sampler once started', async () => {
    const sdk = await startSdk([], {
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_TRACES_SAMPLER: 'always_off',
      OTEL_METRICS_EXPORTER: 'none',
    });
    try {
      const span = trace.getTracer('test').startSpan('unsampled');
      expect(span.isRecording()).toBe(false);
      expect(span.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
      span.end();
    } finally {
      await sdk.shutdown();
    }
  });
});
