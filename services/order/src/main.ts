import { runService } from '@ordermesh/runtime';
import { startOrderService } from './app.js';
import { loadOrderConfig } from './config.js';

await runService('order', () => startOrderService(loadOrderConfig()));
