import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs, one object a line, with the service name on each.
 * Secrets that could reach a log through an error or a request are redacted.
 */
export function createLogger(service: string, level: string): Logger {
  return pino({
    level,
    base: { service },
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
      ],
      censor: '[redacted]',
    },
  });
}
