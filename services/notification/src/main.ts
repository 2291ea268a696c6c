import { runService } from '@ordermesh/kit';
import { startNotificationService } from './app.js';
import { loadNotificationConfig } from './config.js';

await runService('notification', () => startNotificationService(loadNotificationConfig()));
