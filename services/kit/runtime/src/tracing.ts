import { type Attributes, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { errorType } from './metrics.js';

export { SpanKind };

const tracer = trace.getTracer('@ordermesh/runtime');

/**
 * Runs `work` inside a new active span, ending it when the work settles; a
 * failure sets error.type and an error status and is rethrown. Without
 * telemetry the span is a no-op.
 */
export function inSpan<T>(
  name: string,
  options: { kind: SpanKind; attributes?: Attributes },
  work: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, options, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.setAttribute('error.type', errorType(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}
