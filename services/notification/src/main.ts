import { runService } from '@ordermesh/runtime';
import { startNotificationService } from './app.js';
import { loadNotificationConfig } from './config.js';

await runService('notification', () => startNotificationService(loadNotificationConfig()));
