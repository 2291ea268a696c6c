/**
 * `npm start`: creates and migrates the databases, starts the four services
 * and a local mail sink, and shows their logs until Ctrl-C.
 */
import { join } from 'node:path';
import { checkInfrastructure } from './infrastructure.ts';
import { startMailSink } from './mail-sink.ts';
import { metricsPort, migrateDatabases, Platform, type PlatformSettings, ROOT } from './platform.ts';

const settings: PlatformSettings = {
  databaseSuffix: '',
  grpcBasePort: 50050,
  jwksPort: 8081,
  stateDir: join(ROOT, '.ordermesh'),
  smtpUrl: 'smtp://127.0.0.1:2525',
  echo: true,
};

await checkInfrastructure();
const mail = await startMailSink(2525, (message) =>
  console.log(`[mail] to ${message.to.join(', ')}: ${message.subject}`),
);
console.log('[start] applying migrations…');
await migrateDatabases(settings);
const platform = new Platform(settings);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('[start] stopping…');
  await platform.stop();
  await mail.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

await platform.start();
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
