import { runService } from '@ordermesh/runtime';
import { startUserService } from './app.js';
import { loadUserConfig } from './config.js';

await runService('user', () => startUserService(loadUserConfig()));
