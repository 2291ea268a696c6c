import {
  Cache,
  createLogger,
  EventPublisher,
  OutboxRelay,
  protoCodec,
  type ShutdownStep,
  startGrpcServer,
  telemetryShutdownStep,
} from '@ordermesh/kit';
import { Order } from '@ordermesh/proto/order';
import type { OrderConfig } from './config.js';
import { connectDatabase } from './db.js';
import { orderService, toOrderMessage } from './handlers.js';
import { observeOrdersByState } from './metrics.js';
import { Orders } from './orders.js';
import { GrpcPaymentGateway } from './payment-gateway.js';
import { SettlementWorker } from './settlement.js';
import { PrismaOrderStore } from './store.js';

/** Wires OrderService and starts it with its outbox relay and settlement worker. */
export async function startOrderService(config: OrderConfig) {
  const log = createLogger('order', config.LOG_LEVEL);
  const db = connectDatabase(config.DATABASE_URL);
  const cache = Cache.connect(config.REDIS_URL, log, config.ORDER_CACHE_TTL_SECONDS, 'order');
  const publisher = new EventPublisher(config.AMQP_URL, log, config.EVENTS_EXCHANGE);
  const relay = new OutboxRelay(db, publisher, log);
  const payments = new GrpcPaymentGateway(config.PAYMENT_SERVICE_ADDR, config.PAYMENT_TIMEOUT_MS);
  const orders = new Orders(
    new PrismaOrderStore(db),
    payments,
    cache,
    protoCodec(Order),
    toOrderMessage,
    () => relay.notify(),
    { settlementDelayMs: config.PAYMENT_TIMEOUT_MS + 1_000, settlementRetryMs: config.SETTLEMENT_RETRY_MS },
    log,
  );
  const settlement = new SettlementWorker(orders, config.SETTLEMENT_INTERVAL_MS, log);
  const server = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GRPC_PORT,
    services: [orderService(orders, log)],
    log,
  });
  relay.start();
  settlement.start();
  const stopOrderMetrics = observeOrdersByState(db);
  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc server', run: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
    { name: 'settlement worker', run: () => settlement.stop() },
    { name: 'outbox relay', run: () => relay.stop() },
    { name: 'payment client', run: () => payments.close() },
    { name: 'broker', run: () => publisher.close() },
    { name: 'cache', run: () => cache.close() },
    { name: 'order metrics', run: stopOrderMetrics },
    { name: 'database', run: () => db.$disconnect() },
    // Last, so the spans of the shutdown itself are exported too.
    telemetryShutdownStep(),
  ];
  return { port: server.port, log, shutdownSteps };
}
