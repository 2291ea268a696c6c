/**
 * `npm run xds`: serves mesh/ over ADS for services started by hand in
 * proxyless mode (docs/proxyless.md). Endpoints default to the ports
 * `npm start` uses; add more with --endpoints, e.g.
 *
 *   npm run xds -- --endpoints payment=127.0.0.1:50053,127.0.0.1:50063 --port 15010
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../dev/platform.ts';
import { startXdsControlPlane } from './control-plane.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '15010' },
    namespace: { type: 'string', default: 'ordermesh' },
    mesh: { type: 'string', default: join(ROOT, 'mesh') },
    endpoints: { type: 'string', multiple: true, default: [] },
    bootstrap: { type: 'string', default: join(ROOT, '.ordermesh') },
  },
});

// `npm start` runs UserService on 50051, OrderService 50052, PaymentService 50053, NotificationService 50054.
const endpoints: Record<string, string[]> = {
  user: ['127.0.0.1:50051'],
  order: ['127.0.0.1:50052'],
  payment: ['127.0.0.1:50053'],
  notification: ['127.0.0.1:50054'],
};
for (const entry of values.endpoints) {
  const [host, list] = entry.split('=');
  if (!host || !list) throw new Error(`--endpoints ${entry}: write host=addr:port[,addr:port...]`);
  endpoints[host] = list.split(',');
}

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port}: not a port`);
const xds = await startXdsControlPlane({ port, namespace: values.namespace, meshDir: values.mesh, endpoints });
const bootstrap = xds.writeBootstrap(values.bootstrap);
console.log(`[xds] ADS on ${xds.address}, serving ${values.mesh} for namespace ${values.namespace}`);
for (const [host, addresses] of Object.entries(endpoints))
  console.log(`[xds]   ${xds.target(host)} -> ${addresses.join(', ')}`);
console.log(`[xds] bootstrap: ${bootstrap}
To run a service proxyless, add to its environment (e.g. OrderService):
  GRPC_XDS_BOOTSTRAP=${bootstrap} PAYMENT_SERVICE_ADDR=${xds.target('payment')}
Stop: Ctrl-C`);

const stop = async () => {
  await xds.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
