import { ConfigError } from './config.js';
import type { Logger } from './logger.js';
import { onShutdown, type ShutdownStep } from './shutdown.js';

/**
 * The whole of a service's entry point: start it, then shut it down in order
 * on SIGTERM. A start-up failure ends the process with one structured line
 * saying why (for a ConfigError, which variable is wrong) and exit code 1.
 */
export async function runService(
  service: string,
  start: () => Promise<{ log: Logger; shutdownSteps: ShutdownStep[] }>,
): Promise<void> {
  try {
    const running = await start();
    onShutdown(running.log, running.shutdownSteps);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const line = { level: 'fatal', time: new Date().toISOString(), service, msg: `cannot start: ${message}` };
    process.stderr.write(
      `${JSON.stringify(error instanceof ConfigError ? line : { ...line, stack: (error as Error).stack })}\n`,
    );
    process.exit(1);
  }
}
