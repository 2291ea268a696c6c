import { startGrpcServer } from '@ordermesh/grpc';
import { readServiceKey, readTrustedCallerKeys, ServiceTokenSigner, ServiceTokenVerifier } from '@ordermesh/identity';
import { startOutbox } from '@ordermesh/messaging';
import { Order } from '@ordermesh/proto/order';
import { createLogger, type ShutdownStep, telemetryShutdownStep } from '@ordermesh/runtime';
import { Cache, connectDatabase, protoCodec } from '@ordermesh/storage';
import type { OrderConfig } from './config.js';
import { orderService, toOrderMessage } from './handlers.js';
import { observeOrdersByState } from './metrics.js';
import { Orders } from './orders.js';
import { GrpcPaymentGateway } from './payment-gateway.js';
import { SettlementWorker } from './settlement.js';
import { PostgresOrderStore } from './store.js';

/** Wires OrderService and starts it with its outbox relay and settlement worker. */
export async function startOrderService(config: OrderConfig) {
  const log = createLogger('order', config.LOG_LEVEL);
  const pool = connectDatabase(config.DATABASE_URL);
  const cache = Cache.connect(config.REDIS_URL, log, config.ORDER_CACHE_TTL_SECONDS, 'order');
  const outbox = startOutbox(pool, { amqpUrl: config.AMQP_URL, exchange: config.EVENTS_EXCHANGE, log });
  const identity = ServiceTokenSigner.fromPem('order', readServiceKey(config.SERVICE_IDENTITY_KEY_FILE));
  const callers = ServiceTokenVerifier.fromPem('order', readTrustedCallerKeys(config.TRUSTED_CALLER_KEY_FILES));
  const payments = new GrpcPaymentGateway(config.PAYMENT_SERVICE_ADDR, config.PAYMENT_TIMEOUT_MS, identity);
  const orders = new Orders(
    new PostgresOrderStore(pool),
    payments,
    cache,
    protoCodec(Order),
    toOrderMessage,
    outbox.notify,
    { settlementDelayMs: config.PAYMENT_TIMEOUT_MS + 1_000, settlementRetryMs: config.SETTLEMENT_RETRY_MS },
    log,
  );
  const settlement = new SettlementWorker(orders, config.SETTLEMENT_INTERVAL_MS, log);
  const server = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GRPC_PORT,
    services: [orderService(orders, callers, log)],
    log,
  });
  settlement.start();
  const stopOrderMetrics = observeOrdersByState(pool);
  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc server', run: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
    { name: 'settlement worker', run: () => settlement.stop() },
    ...outbox.shutdownSteps,
    { name: 'payment client', run: () => payments.close() },
    { name: 'cache', run: () => cache.close() },
    { name: 'order metrics', run: stopOrderMetrics },
    { name: 'database', run: () => pool.end() },
    // Last, so the spans of the shutdown itself are exported too.
    telemetryShutdownStep(),
  ];
  return { port: server.port, log, shutdownSteps };
}
