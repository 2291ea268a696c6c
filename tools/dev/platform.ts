/**
 * Runs the four services as separate processes against local PostgreSQL,
 * Redis and RabbitMQ. Used by `npm start`, the end-to-end tests and the
 * benchmarks, so all three run the platform the same way.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
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
export const TELEMETRY_IMPORT = ['--import', '@ordermesh/runtime/telemetry/register'];

/**
 * V8 flags of every service process (the Dockerfile sets the same in NODE_OPTIONS), see
 * docs/performance.md. A 4 MiB semi-space caps the young generation at a few MiB instead of
 * letting it grow to ~32 MiB resident: about 30 MiB less RSS per process. A 192 MiB old space
 * (the services keep about 30 MiB live under load) makes V8 collect before garbage piles up:
 * with its default ceiling, a quarter of the machine's memory, the old space swelled by ~90 MiB
 * of garbage between collections at 64 calls in flight, and peak RSS went past 300 MiB.
 */
export const NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=192'];

/**
 * ORDERMESH_CPU_PROFILE_DIR=<dir> (with `npm start` or `npm run bench`): every service writes a
 * V8 CPU profile there when it stops, to open in Chrome DevTools or speedscope.
 */
const profilingFlags = () => {
  const dir = process.env.ORDERMESH_CPU_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(dir)}`] : [];
};

/**
 * Environment of the Node runtime itself (the Dockerfile sets the same). Two malloc arenas
 * instead of glibc's 8 per core: libuv's threads (crypto, scrypt) otherwise each keep an arena
 * of their own, ~30 MiB more RSS under load (docs/performance.md).
 */
export const NODE_RUNTIME_ENV = { MALLOC_ARENA_MAX: '2' };

/** OTEL_* variables of this process pass through, so `OTEL_TRACES_EXPORTER=otlp npm start` reaches a local collector. */
const passedThroughTelemetryEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('OTEL_')));

export const databaseUrl = (settings: PlatformSettings, name: ServiceName) => {
  const base = settings.postgresUrl ?? 'postgresql://postgres@127.0.0.1:5432';
  return `${base}/ordermesh_${name}${settings.databaseSuffix}`;
};

/** The ES256 key pair that signs access tokens, made once per state directory. */
export function ensureSigningKey(stateDir: string): { privateKeyFile: string; publicKeyFile: string } {
  return ensureKeyPair(stateDir, 'jwt');
}

/** The key pairs UserService and OrderService sign their service tokens with (@ordermesh/identity service-tokens.ts). */
export function ensureServiceIdentityKeys(stateDir: string) {
  return { user: ensureKeyPair(stateDir, 'service-user'), order: ensureKeyPair(stateDir, 'service-order') };
}

/** An ES256 key pair, `<name>-private.pem` and `<name>-public.pem`, made once per state directory. */
export function ensureKeyPair(stateDir: string, name: string): { privateKeyFile: string; publicKeyFile: string } {
  const privateKeyFile = join(stateDir, `${name}-private.pem`);
  const publicKeyFile = join(stateDir, `${name}-public.pem`);
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
  const callers = ensureServiceIdentityKeys(settings.stateDir);
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
      SERVICE_IDENTITY_KEY_FILE: callers.user.privateKeyFile,
    },
    order: {
      PAYMENT_SERVICE_ADDR: grpcAddress(settings, 'payment'),
      SERVICE_IDENTITY_KEY_FILE: callers.order.privateKeyFile,
      TRUSTED_CALLER_KEY_FILES: `user=${callers.user.publicKeyFile}`,
    },
    payment: { TRUSTED_CALLER_KEY_FILES: `user=${callers.user.publicKeyFile},order=${callers.order.publicKeyFile}` },
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

/** The instance that `startService`, `stopService`, `address` and `logFile` act on. */
export const DEFAULT_INSTANCE = 'default';

/** Options of one extra instance of a service; see {@link Platform.startInstance}. */
export interface InstanceOptions {
  /** The gRPC port on 127.0.0.1; by default any free port the OS hands out. */
  port?: number;
  /** Adds to or overrides this instance's environment (after the platform's `env` for the service). */
  env?: Record<string, string>;
}

interface RunningInstance {
  child: ChildProcess;
  address: string;
}

/** Asks the OS for a port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

/**
 * The four services as child processes.
 *
 * Each service runs as one or more named instances. `start`, `startService`,
 * `stopService`, `address` and `logFile` act on the {@link DEFAULT_INSTANCE},
 * which listens on the port `PlatformSettings.grpcBasePort` gives the service.
 * Further instances (several PaymentService replicas behind an xDS control
 * plane, say) come from `startInstance`, each with its own port, log file and
 * environment:
 *
 * ```ts
 * const platform = new Platform(settings);
 * await platform.start(['payment']);                                     // instance "default"
 * const b = await platform.startInstance('payment', 'b', { port: 26010, env: { PAYMENT_SIM_LATENCY_MS: '50' } });
 * await platform.stopInstance('payment', 'b', 'SIGKILL');                // crash it
 * await platform.startInstance('payment', 'b', { port: 26010 });         // and bring it back on the same port
 * platform.instanceLogFile('payment', 'b');                              // <stateDir>/logs/payment-b.log
 * await platform.stop();                                                 // every instance of every service
 * ```
 */
export class Platform {
  /** Keyed by `instanceKey(name, instance)`. */
  private readonly instances = new Map<string, RunningInstance>();
  readonly settings: PlatformSettings;

  constructor(settings: PlatformSettings) {
    this.settings = settings;
  }

  /** The default instance's log file. */
  logFile(name: ServiceName): string {
    return this.instanceLogFile(name, DEFAULT_INSTANCE);
  }

  /** The default instance's gRPC address (known before it starts). */
  address(name: ServiceName): string {
    return grpcAddress(this.settings, name);
  }

  /** Starts the default instance of each service in `names`, in that order. */
  /** Starts the services in order; if one cannot start, stops those already running before it throws. */
  async start(names: readonly ServiceName[] = SERVICE_NAMES): Promise<void> {
    try {
      for (const name of names) await this.startService(name);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Starts one service's default instance; `env` adds to or overrides its environment for this run only. */
  async startService(name: ServiceName, env: Record<string, string> = {}): Promise<void> {
    await this.launch(name, DEFAULT_INSTANCE, this.address(name), env);
  }

  /** Stops the default instance: SIGTERM for a graceful shutdown, SIGKILL for a crash. Resolves with its exit code once it has exited (null if it was not running or died by signal). */
  async stopService(name: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    return this.stopInstance(name, DEFAULT_INSTANCE, signal);
  }

  /**
   * Starts another instance of a service, or restarts a stopped one. It gets
   * the service's usual environment plus `options.env`, its own gRPC port
   * (`options.port`, else any free one), a metrics port and (UserService) a
   * JWKS port picked by the OS, and its own log file. Resolves with its gRPC
   * address once it reports SERVING on grpc.health.v1.
   *
   * @param instance a name unique per service, e.g. "b"; "default" is the instance `startService` runs.
   */
  async startInstance(name: ServiceName, instance: string, options: InstanceOptions = {}): Promise<string> {
    if (instance === DEFAULT_INSTANCE) {
      if (options.port !== undefined && `127.0.0.1:${options.port}` !== this.address(name))
        throw new Error(
          `the default instance of ${name} listens on ${this.address(name)}; start another instance for port ${options.port}`,
        );
      await this.startService(name, options.env);
      return this.address(name);
    }
    if (!/^[a-z0-9][a-z0-9-]*$/i.test(instance))
      throw new Error(`instance name ${JSON.stringify(instance)}: use letters, digits and dashes`);
    const port = options.port ?? (await freePort());
    // Port 0: the OS picks, so replicas never fight over the default instance's metrics or JWKS port.
    const perInstance: Record<string, string> = { GRPC_PORT: String(port), METRICS_PORT: '0' };
    if (name === 'user') perInstance.JWKS_PORT = '0';
    const address = `127.0.0.1:${port}`;
    await this.launch(name, instance, address, { ...perInstance, ...options.env });
    return address;
  }

  /** Stops one instance by `signal` (SIGKILL simulates a crash). Resolves with its exit code once it has exited; null if it was not running or died by signal. */
  async stopInstance(name: ServiceName, instance: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const running = this.instances.get(instanceKey(name, instance));
    if (!running) return null;
    const { child } = running;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exit = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill(signal);
    return exit;
  }

  /** The gRPC address of an instance: fixed for the default instance; for another, known while it runs (throws otherwise). */
  instanceAddress(name: ServiceName, instance: string): string {
    if (instance === DEFAULT_INSTANCE) return this.address(name);
    const running = this.instances.get(instanceKey(name, instance));
    if (!running) throw new Error(`${name} instance ${instance} is not running`);
    return running.address;
  }

  /** Where an instance's stdout and stderr go: logs/<name>.log for the default instance, logs/<name>-<instance>.log otherwise. Appended to across restarts. */
  instanceLogFile(name: ServiceName, instance: string): string {
    const file = instance === DEFAULT_INSTANCE ? name : `${name}-${instance}`;
    return join(this.settings.stateDir, 'logs', `${file}.log`);
  }

  /** The names of the instances of `name` that are running now. */
  runningInstances(name: ServiceName): string[] {
    const prefix = `${name}/`;
    return [...this.instances.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
  }

  /** Stops every instance of every service, callers before callees. */
  async stop(): Promise<void> {
    await Promise.all(
      [...SERVICE_NAMES]
        .reverse()
        .flatMap((name) => this.runningInstances(name).map((instance) => this.stopInstance(name, instance))),
    );
  }

  private async launch(name: ServiceName, instance: string, address: string, env: Record<string, string>) {
    const key = instanceKey(name, instance);
    if (this.instances.has(key)) throw new Error(`${describe(name, instance)} is already running`);
    mkdirSync(join(this.settings.stateDir, 'logs'), { recursive: true });
    const logFile = this.instanceLogFile(name, instance);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(
      process.execPath,
      [...NODE_FLAGS, ...profilingFlags(), ...TELEMETRY_IMPORT, join(ROOT, 'services', name, 'dist/main.js')],
      {
        cwd: ROOT,
        env: { ...NODE_RUNTIME_ENV, ...serviceEnv(this.settings, name), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const label = instance === DEFAULT_INSTANCE ? name : `${name}-${instance}`;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(log, { end: false });
      if (this.settings.echo) {
        stream?.on('data', (chunk: Buffer) => {
          for (const line of chunk.toString().split('\n').filter(Boolean)) process.stdout.write(`[${label}] ${line}\n`);
        });
      }
    }
    let exited = false;
    child.once('exit', () => {
      exited = true;
      log.end();
      if (this.instances.get(key)?.child === child) this.instances.delete(key);
    });
    this.instances.set(key, { child, address });
    try {
      await waitUntilServing(address, 30_000, () => exited);
    } catch (error) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`${describe(name, instance)} did not start: ${(error as Error).message}\n${tail}`);
    }
  }
}

const instanceKey = (name: ServiceName, instance: string) => `${name}/${instance}`;
const describe = (name: ServiceName, instance: string) =>
  instance === DEFAULT_INSTANCE ? name : `${name} instance ${instance}`;
