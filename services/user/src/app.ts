import { createClient, startGrpcServer } from '@ordermesh/grpc';
import { readServiceKey, ServiceTokenSigner, TokenIssuer } from '@ordermesh/identity';
import { startOutbox } from '@ordermesh/messaging';
import { OrderServiceClient } from '@ordermesh/proto/order';
import { PaymentServiceClient } from '@ordermesh/proto/payment';
import { User } from '@ordermesh/proto/user';
import { createLogger, type ShutdownStep, telemetryShutdownStep } from '@ordermesh/runtime';
import { Cache, connectDatabase, protoCodec } from '@ordermesh/storage';
import { readExtraPublicKeys, readPrivateKey, type UserConfig } from './config.js';
import { userService } from './handlers.js';
import { startJwksServer } from './jwks-server.js';
import { loginThrottleKeyPrefix, RedisLoginThrottle } from './login-throttle.js';
import { PostgresUserStore } from './store.js';
import { Users } from './users.js';

/** Wires UserService, the public entry point, and starts it. */
export async function startUserService(config: UserConfig) {
  const log = createLogger('user', config.LOG_LEVEL);
  const privateKey = readPrivateKey(config);
  const tokenSettings = { issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
  const issuer = await TokenIssuer.fromPem(
    privateKey,
    { ...tokenSettings, ttlSeconds: config.JWT_TTL_SECONDS },
    readExtraPublicKeys(config),
  );
  const verifier = issuer.verifier();
  const identity = ServiceTokenSigner.fromPem('user', readServiceKey(config.SERVICE_IDENTITY_KEY_FILE));

  const pool = connectDatabase(config.DATABASE_URL);
  const cache = Cache.connect(config.REDIS_URL, log, config.PROFILE_CACHE_TTL_SECONDS, 'profile');
  const outbox = startOutbox(pool, { amqpUrl: config.AMQP_URL, exchange: config.EVENTS_EXCHANGE, log });
  const orders = createClient(OrderServiceClient, config.ORDER_SERVICE_ADDR, identity.interceptor('order'));
  const payments = createClient(PaymentServiceClient, config.PAYMENT_SERVICE_ADDR, identity.interceptor('payment'));
  const users = new Users(
    new PostgresUserStore(pool),
    issuer,
    cache,
    protoCodec(User),
    config.PASSWORD_SCRYPT_LOG_N,
    outbox.notify,
  );
  const throttle = await RedisLoginThrottle.connect(
    config.REDIS_URL,
    {
      perAccount: config.LOGIN_THROTTLE_PER_ACCOUNT,
      perSource: config.LOGIN_THROTTLE_PER_SOURCE,
      windowSeconds: config.LOGIN_THROTTLE_WINDOW_SECONDS,
    },
    log,
    loginThrottleKeyPrefix(config.DATABASE_URL),
  );
  const downstream = { orders, payments, timeoutMs: config.DOWNSTREAM_TIMEOUT_MS };
  const loginGuard = { throttle, clientAddressFrom: config.LOGIN_CLIENT_ADDRESS_FROM };
  const server = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GRPC_PORT,
    services: [userService(users, verifier, downstream, loginGuard, log)],
    log,
  });
  const jwks = config.JWKS_PORT
    ? await startJwksServer(config.GRPC_HOST, config.JWKS_PORT, issuer.jwks(), log)
    : undefined;
  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc server', run: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
    {
      name: 'jwks server',
      run: () => new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve())),
    },
    {
      name: 'downstream clients',
      run: () => {
        orders.close();
        payments.close();
      },
    },
    ...outbox.shutdownSteps,
    { name: 'cache', run: () => cache.close() },
    { name: 'login throttle', run: () => throttle.close() },
    { name: 'database', run: () => pool.end() },
    // Last, so the spans of the shutdown itself are exported too.
    telemetryShutdownStep(),
  ];
  return { port: server.port, log, shutdownSteps };
}
