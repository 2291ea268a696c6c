/**
 * `npm start`: creates and migrates the databases, starts the four services
 * and a local mail sink, and shows their logs until Ctrl-C or SIGTERM, which
 * stop every service before this process exits.
 *
 * Ports, databases and the state directory can be moved so that a second copy
 * (or a test) runs beside the usual one:
 *   ORDERMESH_BASE_PORT       gRPC on base + 1..4, metrics on base + 11..14 (50050)
 *   ORDERMESH_JWKS_PORT       UserService's JWKS endpoint (8081)
 *   ORDERMESH_SMTP_PORT       the mail sink (2525)
 *   ORDERMESH_DATABASE_SUFFIX appended to every database name ("")
 *   ORDERMESH_STATE_DIR       keys and logs (.ordermesh)
 */
import { join, resolve } from 'node:path';
import { checkInfrastructure } from './infrastructure.ts';
import { startMailSink } from './mail-sink.ts';
import { metricsPort, migrateDatabases, Platform, type PlatformSettings, ROOT } from './platform.ts';

function portFrom(variable: string, fallback: number): number {
  const raw = process.env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    console.error(`invalid configuration: ${variable}=${JSON.stringify(raw)}: must be a port number (1-65535)`);
    process.exit(1);
  }
  return port;
}

const databaseSuffix = process.env.ORDERMESH_DATABASE_SUFFIX ?? '';
if (!/^[a-z0-9_]*$/.test(databaseSuffix)) {
  console.error(
    `invalid configuration: ORDERMESH_DATABASE_SUFFIX=${JSON.stringify(databaseSuffix)}: use lower-case letters, digits and _`,
  );
  process.exit(1);
}
const smtpPort = portFrom('ORDERMESH_SMTP_PORT', 2525);
const settings: PlatformSettings = {
  databaseSuffix,
  grpcBasePort: portFrom('ORDERMESH_BASE_PORT', 50050),
  jwksPort: portFrom('ORDERMESH_JWKS_PORT', 8081),
  stateDir: resolve(process.env.ORDERMESH_STATE_DIR || join(ROOT, '.ordermesh')),
  smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
  echo: true,
};

await checkInfrastructure();
const mail = await startMailSink(smtpPort, (message) =>
  console.log(`[mail] to ${message.to.join(', ')}: ${message.subject}`),
);
console.log('[start] applying migrations…');
await migrateDatabases(settings);
const platform = new Platform(settings);
const starting = platform.start();
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('[start] stopping…');
  // A service launched after stop() looked would outlive this process: let the start finish (or fail) first.
  await starting.catch(() => undefined);
  await platform.stop();
  await mail.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

await starting;
if (!stopping) {
  console.log(`
[start] ordermesh is running:
  UserService          ${platform.address('user')}   (public API, grpc reflection on)
  OrderService         ${platform.address('order')}
  PaymentService       ${platform.address('payment')}
  NotificationService  ${platform.address('notification')}
  JWKS                 http://127.0.0.1:${settings.jwksPort}/.well-known/jwks.json
  mail sink            smtp://127.0.0.1:${mail.port}
  metrics              http://127.0.0.1:${metricsPort(settings, 'user')}/metrics (user) to :${metricsPort(settings, 'notification')} (notification)
Try it: npm run demo    Stop: Ctrl-C
`);
}
