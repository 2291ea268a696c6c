import { onShutdown } from '@ordermesh/kit';
import { startUserService } from './app.js';
import { loadUserConfig } from './config.js';

const service = await startUserService(loadUserConfig());
onShutdown(service.log, service.shutdownSteps);
