import { onShutdown } from '@ordermesh/kit';
import { startPaymentService } from './app.js';
import { loadPaymentConfig } from './config.js';

const service = await startPaymentService(loadPaymentConfig());
onShutdown(service.log, service.shutdownSteps);
