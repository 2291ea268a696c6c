/**
 * Runs the four services as separate processes against local PostgreSQL,
 * Redis and RabbitMQ. Used by `npm start`, the end-to-end tests and the
 * benchmarks, so all three run the platform the same way.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export type ServiceName = 'payment' | 'order' | 'notification' | 'user';
/** Start order: callees before callers. */
export const SERVICE_NAMES: readonly ServiceName[] = ['payment', 'order', 'notification', 'user'];
const PORT_OFFSET: Record<ServiceName, number> = { user: 1, order: 2, payment: 3, notification: 4 };

export interface PlatformSettings {
  /** Appended to every database name (ordermesh_user + suffix), so tests never touch the dev databases. */
  databaseSuffix: string;
  /** UserService listens on base + 1, OrderService + 2, PaymentService + 3, NotificationService + 4. */
  grpcBasePort: number;
  jwksPort: number;
  /** Keys and logs go here. */
  stateDir: string;
  smtpUrl: string;
  postgresUrl?: string;
  redisUrl?: string;
  amqpUrl?: string;
  /** Copy each service's log lines to this process's stdout, prefixed with its name. */
  echo?: boolean;
  env?: Partial<Record<ServiceName, Record<string, string>>>;
}

export const grpcAddress = (settings: PlatformSettings, name: ServiceName) =>
  `127.0.0.1:${settings.grpcBasePort + PORT_OFFSET[name]}`;

/** Each process serves Prometheus metrics on its own port: base + 11 (user) to base + 14 (notification). */
export const metricsPort = (settings: PlatformSettings, name: ServiceName) =>
  settings.grpcBasePort + 10 + PORT_OFFSET[name];

/**
 * How every service process starts, here and in the Dockerfile: the telemetry
 * entry point is loaded with --import, before the service's own modules, so
 * its instrumentations see gRPC, pg, ioredis and amqplib load.
 */
export const TELEMETRY_IMPORT = ['--import', '@ordermesh/kit/telemetry/register'];

/** OTEL_* variables of this process pass through, so `OTEL_TRACES_EXPORTER=otlp npm start` reaches a local collector. */
const passedThroughTelemetryEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('OTEL_')));

export const databaseUrl = (settings: PlatformSettings, name: ServiceName) => {
  const base = settings.postgresUrl ?? 'postgresql://postgres@127.0.0.1:5432';
  return `${base}/ordermesh_${name}${settings.databaseSuffix}`;
};

/** The ES256 key pair that signs access tokens, made once per state directory. */
export function ensureSigningKey(stateDir: string): { privateKeyFile: string; publicKeyFile: string } {
  const privateKeyFile = join(stateDir, 'jwt-private.pem');
  const publicKeyFile = join(stateDir, 'jwt-public.pem');
  if (!existsSync(privateKeyFile) || !existsSync(publicKeyFile)) {
    mkdirSync(stateDir, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return { privateKeyFile, publicKeyFile };
}

export function serviceEnv(settings: PlatformSettings, name: ServiceName): NodeJS.ProcessEnv {
  const keys = ensureSigningKey(settings.stateDir);
  const shared = {
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: String(settings.grpcBasePort + PORT_OFFSET[name]),
    DATABASE_URL: databaseUrl(settings, name),
    REDIS_URL: settings.redisUrl ?? 'redis://127.0.0.1:6379',
    AMQP_URL: settings.amqpUrl ?? 'amqp://guest:guest@127.0.0.1:5672',
    METRICS_HOST: '127.0.0.1',
    METRICS_PORT: String(metricsPort(settings, name)),
    OTEL_SERVICE_NAME: name,
    OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=ordermesh,deployment.environment.name=local',
    ...passedThroughTelemetryEnv(),
  };
  const own: Record<ServiceName, Record<string, string>> = {
    user: {
      ORDER_SERVICE_ADDR: grpcAddress(settings, 'order'),
      PAYMENT_SERVICE_ADDR: grpcAddress(settings, 'payment'),
      JWT_PRIVATE_KEY_FILE: keys.privateKeyFile,
      JWKS_PORT: String(settings.jwksPort),
    },
    order: { PAYMENT_SERVICE_ADDR: grpcAddress(settings, 'payment') },
    payment: {},
    notification: { JWT_PUBLIC_KEY_FILE: keys.publicKeyFile, SMTP_URL: settings.smtpUrl },
  };
  return { PATH: process.env.PATH, ...shared, ...own[name], ...settings.env?.[name] };
}

const run = promisify(execFile);

/** Creates each service's database if missing and applies its migrations (prisma migrate deploy). */
export async function migrateDatabases(settings: PlatformSettings): Promise<void> {
  for (const name of SERVICE_NAMES) {
    await run(process.execPath, [join(ROOT, 'tools/prisma/prisma.mjs'), name, 'migrate', 'deploy'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl(settings, name) },
    });
  }
}

const HealthClient = makeGenericClientConstructor(healthService, 'Health');

/** Resolves once the server at `address` reports SERVING on grpc.health.v1. */
export async function waitUntilServing(address: string, timeoutMs: number, exited?: () => boolean): Promise<void> {
  const client = new HealthClient(address, credentials.createInsecure());
  const until = Date.now() + timeoutMs;
  try {
    while (Date.now() < until) {
      if (exited?.()) throw new Error(`the process serving ${address} exited`);
      const serving = await new Promise<boolean>((done) =>
        client.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          // HealthCheckRequest { service: "" } (the whole server) encodes as no bytes at all.
          () => Buffer.alloc(0),
          (bytes: Buffer) => bytes,
          {},
          { deadline: Date.now() + 500 },
          (error: ServiceError | null, response?: Buffer) =>
            // HealthCheckResponse { status: SERVING = 1 } encodes as 08 01.
            done(!error && response?.equals(Buffer.from([0x08, 0x01])) === true),
        ),
      );
      if (serving) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${address} did not report SERVING within ${timeoutMs} ms`);
  } finally {
    client.close();
  }
}

/** The four services as child processes. */
export class Platform {
  private readonly processes = new Map<ServiceName, ChildProcess>();
  readonly settings: PlatformSettings;

  constructor(settings: PlatformSettings) {
    this.settings = settings;
  }

  logFile(name: ServiceName): string {
    return join(this.settings.stateDir, 'logs', `${name}.log`);
  }

  address(name: ServiceName): string {
    return grpcAddress(this.settings, name);
  }

  async start(names: readonly ServiceName[] = SERVICE_NAMES): Promise<void> {
    for (const name of names) await this.startService(name);
  }

  /** Starts one service; `env` adds to or overrides its environment for this run only. */
  async startService(name: ServiceName, env: Record<string, string> = {}): Promise<void> {
    if (this.processes.has(name)) throw new Error(`${name} is already running`);
    mkdirSync(join(this.settings.stateDir, 'logs'), { recursive: true });
    const log = createWriteStream(this.logFile(name), { flags: 'a' });
    const child = spawn(process.execPath, [...TELEMETRY_IMPORT, join(ROOT, 'services', name, 'dist/main.js')], {
      cwd: ROOT,
      env: { ...serviceEnv(this.settings, name), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(log, { end: false });
      if (this.settings.echo) {
        stream?.on('data', (chunk: Buffer) => {
          for (const line of chunk.toString().split('\n').filter(Boolean)) process.stdout.write(`[${name}] ${line}\n`);
        });
      }
    }
    let exited = false;
    child.once('exit', () => {
      exited = true;
      log.end();
      if (this.processes.get(name) === child) this.processes.delete(name);
    });
    this.processes.set(name, child);
    try {
      await waitUntilServing(this.address(name), 30_000, () => exited);
    } catch (error) {
      const tail = readFileSync(this.logFile(name), 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${name} did not start: ${(error as Error).message}\n${tail}`);
    }
  }

  /** Stops one service: SIGTERM for a graceful shutdown, SIGKILL for a crash. Resolves when it has exited. */
  async stopService(name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.processes.get(name);
    if (!child) return null;
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill(signal);
    return exit;
  }

  async stop(): Promise<void> {
    await Promise.all([...SERVICE_NAMES].reverse().map((name) => this.stopService(name)));
  }
}
