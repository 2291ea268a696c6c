import { onShutdown } from '@ordermesh/kit';
import { startOrderService } from './app.js';
import { loadOrderConfig } from './config.js';

const service = await startOrderService(loadOrderConfig());
onShutdown(service.log, service.shutdownSteps);
