import { runService } from '@ordermesh/runtime';
import { startPaymentService } from './app.js';
import { loadPaymentConfig } from './config.js';

await runService('payment', () => startPaymentService(loadPaymentConfig()));
