import type { ShutdownStep } from '../shutdown.js';

/** What the kit needs of the running SDK: flushing spans and metrics before the process exits. */
interface RunningSdk {
  shutdown(): Promise<void>;
}

// A global slot, not a module variable: the --import entry and the service load the kit separately.
const SLOT = Symbol.for('ordermesh.telemetry.sdk');
type WithSdk = typeof globalThis & { [SLOT]?: RunningSdk };

export function setRunningSdk(sdk: RunningSdk): void {
  (globalThis as WithSdk)[SLOT] = sdk;
}

/** The last shutdown step: exports the spans still buffered and stops the metrics endpoint. */
export function telemetryShutdownStep(): ShutdownStep {
  return { name: 'telemetry', run: () => (globalThis as WithSdk)[SLOT]?.shutdown() };
}
