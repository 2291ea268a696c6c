import type { Logger } from './logger.js';

export interface ShutdownStep {
  name: string;
  run(): Promise<void> | void;
}

/**
 * Runs the steps in order on SIGTERM or SIGINT (first stop taking work, then
 * close what the work used), then exits. A step that fails is logged and the
 * rest still run, so pools and channels are closed whatever happens.
 */
export function onShutdown(log: Logger, steps: ShutdownStep[]): () => Promise<void> {
  let running: Promise<void> | undefined;
  const shutdown = () => {
    running ??= (async () => {
      log.info('shutting down');
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          log.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      log.info('shut down');
    })();
    return running;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void shutdown().then(() => process.exit(0));
    });
  }
  return shutdown;
}
