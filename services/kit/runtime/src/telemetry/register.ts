/**
 * The telemetry entry point, loaded before the service with
 *   node --import @ordermesh/kit/telemetry/register services/<name>/dist/main.js
 * (tools/dev/platform.ts and the Dockerfile both start services this way).
 *
 * Order matters: the ESM loader hook and the instrumentations must be in place
 * before gRPC, pg, ioredis or amqplib is first loaded, and the SDK itself loads
 * @grpc/grpc-js, so it is imported only after them. OTEL_SDK_DISABLED=true
 * skips all of it: no hook, no patching, no cost.
 */
import { register as registerAsyncHooks } from 'node:module';
import { register, supportsSyncHooks } from 'import-in-the-middle/register-hooks.mjs';
import { createInstrumentations, INSTRUMENTED_PACKAGES } from './instrumentations.js';
import { setRunningSdk } from './lifecycle.js';

if (process.env.OTEL_SDK_DISABLED?.toLowerCase() !== 'true') {
  // In-thread hooks limited to the instrumented packages: no loader thread, nothing else wrapped.
  if (supportsSyncHooks()) register({ include: INSTRUMENTED_PACKAGES });
  else
    registerAsyncHooks('import-in-the-middle/hook.mjs', import.meta.url, { data: { include: INSTRUMENTED_PACKAGES } });
  const instrumentations = createInstrumentations();
  const { startSdk } = await import('./sdk.js');
  setRunningSdk(await startSdk(instrumentations));
}
