import { runService } from '@ordermesh/kit';
import { startPaymentService } from './app.js';
import { loadPaymentConfig } from './config.js';

await runService('payment', () => startPaymentService(loadPaymentConfig()));
