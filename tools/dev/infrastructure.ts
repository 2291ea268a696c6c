import { Socket } from 'node:net';

const SERVICES = [
  { name: 'PostgreSQL', port: 5432 },
  { name: 'Redis', port: 6379 },
  { name: 'RabbitMQ', port: 5672 },
];

const reachable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const settle = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000);
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
    socket.once('timeout', () => settle(false));
    socket.connect(port, '127.0.0.1');
  });

/** Fails with instructions when PostgreSQL, Redis or RabbitMQ is not listening locally. */
export async function checkInfrastructure(): Promise<void> {
  const missing = [];
  for (const service of SERVICES) if (!(await reachable(service.port))) missing.push(service);
  if (missing.length === 0) return;
  const list = missing.map((s) => `${s.name} (127.0.0.1:${s.port})`).join(', ');
  console.error(`Not reachable: ${list}.
Start them with \`docker compose -f compose.infra.yaml up -d\`, or install the OS packages
(Debian/Ubuntu: apt-get install postgresql redis-server rabbitmq-server). See README.md.`);
  process.exit(1);
}
