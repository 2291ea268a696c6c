import { type Meter, metrics } from '@opentelemetry/api';

/**
 * The meter of one package's instruments, named after the package (the
 * instrumentation scope). Without the telemetry entry point
 * (unit tests, OTEL_SDK_DISABLED=true) it is the API's no-op meter, so
 * recording costs nothing. The SDK starts in the --import entry, before any
 * service module is loaded, so the real provider is in place by now.
 */
export function serviceMeter(name: string): Meter {
  return metrics.getMeter(name);
}

/** Seconds since `startedAt` (a performance.now() reading). */
export const secondsSince = (startedAt: number) => (performance.now() - startedAt) / 1000;

/**
 * A low-cardinality `error.type` for a failure: a system error code such as
 * ECONNREFUSED, else the error's class name when it has a meaningful one, else
 * the semantic conventions' catch-all `_OTHER`.
 */
export function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  const name = error instanceof Error ? error.name : '';
  return name && name !== 'Error' ? name : '_OTHER';
}

/**
 * Runs a gauge's data-source query at scrape time, but never lets a slow or
 * unreachable database hold the scrape: after `ms` the reading is skipped.
 */
export async function readWithin<T>(ms: number, read: () => PromiseLike<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([Promise.resolve(read()).catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
