import { startGrpcServer } from '@ordermesh/grpc';
import { readTrustedCallerKeys, ServiceTokenVerifier } from '@ordermesh/identity';
import { startOutbox } from '@ordermesh/messaging';
import { createLogger, type ShutdownStep, telemetryShutdownStep } from '@ordermesh/runtime';
import { connectDatabase } from '@ordermesh/storage';
import type { PaymentConfig } from './config.js';
import { paymentService } from './handlers.js';
import { countingOutcomes } from './metrics.js';
import { Payments } from './payments.js';
import { SimulatedProvider } from './provider.js';
import { PostgresPaymentStore } from './store.js';

/** Wires PaymentService and starts it. Returns the bound port and the ordered shutdown steps. */
export async function startPaymentService(config: PaymentConfig) {
  const log = createLogger('payment', config.LOG_LEVEL);
  const pool = connectDatabase(config.DATABASE_URL);
  const outbox = startOutbox(pool, { amqpUrl: config.AMQP_URL, exchange: config.EVENTS_EXCHANGE, log });
  const provider = new SimulatedProvider({
    latencyMs: config.PAYMENT_SIM_LATENCY_MS,
    declinedCards: config.PAYMENT_SIM_DECLINED_CARDS,
    limitMinor: config.PAYMENT_SIM_LIMIT_MINOR,
  });
  const callers = ServiceTokenVerifier.fromPem('payment', readTrustedCallerKeys(config.TRUSTED_CALLER_KEY_FILES));
  const payments = new Payments(countingOutcomes(new PostgresPaymentStore(pool)), provider, outbox.notify);
  const server = await startGrpcServer({
    host: config.GRPC_HOST,
    port: config.GRPC_PORT,
    services: [paymentService(payments, callers, log)],
    log,
  });
  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc server', run: () => server.shutdown(config.SHUTDOWN_GRACE_MS) },
    ...outbox.shutdownSteps,
    { name: 'database', run: () => pool.end() },
    // Last, so the spans of the shutdown itself are exported too.
    telemetryShutdownStep(),
  ];
  return { port: server.port, log, shutdownSteps };
}
