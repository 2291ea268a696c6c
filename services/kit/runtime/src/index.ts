export * from './backoff.js';
export * from './config.js';
export * from './errors.js';
export * from './logger.js';
export * from './main.js';
export * from './metrics.js';
export * from './shutdown.js';
export { telemetryShutdownStep } from './telemetry/lifecycle.js';
export * from './tracing.js';
