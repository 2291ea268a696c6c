import { runService } from '@ordermesh/kit';
import { startOrderService } from './app.js';
import { loadOrderConfig } from './config.js';

await runService('order', () => startOrderService(loadOrderConfig()));
