import { isSpanContextValid, trace } from '@opentelemetry/api';
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Adds trace_id and span_id to every line written inside a span, so a log
 * line leads to its trace and back. Without telemetry there is never an
 * active span and this returns the same empty object each time.
 */
const NO_TRACE = {};
function traceFields() {
  const span = trace.getActiveSpan();
  if (!span) return NO_TRACE;
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return NO_TRACE;
  return { trace_id: context.traceId, span_id: context.spanId, trace_flags: `0${context.traceFlags.toString(16)}` };
}

/**
 * Structured JSON logs, one object a line, with the service name on each.
 * Secrets that could reach a log through an error or a request are redacted.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service },
    mixin: traceFields,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'password',
        '*.password',
        'cardNumber',
        '*.cardNumber',
        'authorization',
        '*.authorization',
        'accessToken',
        '*.accessToken',
        // A payment provider's card token charges the card: as good as the number to whoever holds it.
        'providerToken',
        '*.providerToken',
        'token',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}
