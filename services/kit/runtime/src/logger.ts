import { isSpanContextValid, trace } from '@opentelemetry/api';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger };

/**
 * Adds trace_id and span_id to every line written inside a span, so a log
 * line leads to its trace and back. A new object every time: pino merges
 * each line's own fields into the object a mixin returns, so a shared one
 * would carry them onto every later line.
 */
function traceFields() {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const context = span.spanContext();
  if (!isSpanContextValid(context)) return {};
  return { trace_id: context.traceId, span_id: context.spanId, trace_flags: `0${context.traceFlags.toString(16)}` };
}

/**
 * Structured JSON logs, one object a line, with the service name on each.
 * Secrets that could reach a log through an error or a request are redacted.
 */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions<never> = {
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
  };
  return destination ? pino(options, destination) : pino(options);
}
