import { z } from 'zod';

/** Thrown at start-up when the environment does not describe a runnable service. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Validates `env` against `shape` (one entry per environment variable) and
 * returns the typed result. Every bad variable is named in one error, so an
 * operator fixes them all in one go.
 */
export function loadConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<Shape>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = issue.path.join('.');
      const given = typeof issue.path[0] === 'string' ? env[issue.path[0]] : undefined;
      return given === undefined
        ? `${variable}: ${issue.message}`
        : `${variable}=${JSON.stringify(redactUrl(given))}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Hides the password of a URL so that config errors can be logged safely. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value;
  }
}

const integer = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

const urlWithScheme = (schemes: readonly string[], fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine(
      (value) => {
        try {
          return schemes.includes(new URL(value).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      `must be a URL starting with ${schemes.map((s) => `${s}://`).join(' or ')}`,
    );

/** Building blocks for service configuration shapes. */
export const env = {
  integer,
  /** 0 asks the OS for any free port, which tests use. */
  port: (fallback: number) => integer(0, 65535, fallback),
  url: urlWithScheme,
  milliseconds: (fallback: number) => integer(0, 24 * 60 * 60 * 1000, fallback),
  postgresUrl: (database: string) =>
    urlWithScheme(['postgres', 'postgresql'], `postgresql://postgres@127.0.0.1:5432/${database}`),
  redisUrl: () => urlWithScheme(['redis', 'rediss'], 'redis://127.0.0.1:6379'),
  amqpUrl: () => urlWithScheme(['amqp', 'amqps'], 'amqp://guest:guest@127.0.0.1:5672'),
  /** A `host:port` or any gRPC target such as `dns:///order:50052` or `xds:///order`. */
  grpcTarget: (fallback: string) => z.string().min(1, 'must not be empty').default(fallback),
  text: (fallback: string) => z.string().min(1, 'must not be empty').default(fallback),
  requiredText: () => z.string({ error: 'is required' }).min(1, 'must not be empty'),
};

/** Variables every service reads. */
export const commonConfigShape = {
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRPC_HOST: env.text('0.0.0.0'),
  SHUTDOWN_GRACE_MS: env.milliseconds(10_000),
  /** The topic exchange events go through; tests use their own so they never cross a running instance. */
  EVENTS_EXCHANGE: env.text('ordermesh.events'),
};
