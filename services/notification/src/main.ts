import { onShutdown } from '@ordermesh/kit';
import { startNotificationService } from './app.js';
import { loadNotificationConfig } from './config.js';

const service = await startNotificationService(loadNotificationConfig());
onShutdown(service.log, service.shutdownSteps);
