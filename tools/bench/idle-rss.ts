/**
 * npm run bench:idle-rss [-- --samples N]: the four services' resident memory
 * doing nothing, without the rest of the benchmark (under a minute). It starts
 * the platform as `npm run bench` does, reads RSS just after start, signs up
 * the benchmark's accounts (the logins are what leave memory behind), lets the
 * services idle and reads RSS again, N times a second apart, and prints each
 * service's median. The goal (docs/performance.md) is < 150 MiB each.
 */
import { parseArgs } from 'node:util';
import { SERVICE_NAMES } from '../dev/platform.ts';
import { signUpAll } from './accounts.ts';
import { memoryMiB } from './proc-stats.ts';
import * as bench from './settings.ts';
import { deleteBrokerObjects, startChild, startPlatform } from './systems.ts';

const IDLE_GOAL_MIB = 150;
/** Time for the event loop to settle after the sign-ups: timers fire, V8 finishes incremental marking. */
const SETTLE_MS = 5_000;

const { values } = parseArgs({ options: { samples: { type: 'string', default: '5' } } });
const samples = bench.countOption('samples', values.samples);

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const mailSink = await startChild('mail-sink-process.ts', { SMTP_PORT: String(bench.SMTP_PORT) }, true);
const platform = await startPlatform();
let failed = false;
try {
  const started = new Map([...platform.pids].map(([name, pid]) => [name, memoryMiB(pid).rss]));
  await signUpAll(platform.address, bench.ACCOUNT_NAMES);
  await sleep(SETTLE_MS);
  const readings = new Map<string, number[]>(SERVICE_NAMES.map((name) => [name, []]));
  for (let i = 0; i < samples; i += 1) {
    if (i > 0) await sleep(1_000);
    for (const [name, pid] of platform.pids) readings.get(name)?.push(memoryMiB(pid).rss);
  }
  console.log(`idle RSS (MiB), median of ${samples}, after ${bench.ACCOUNT_NAMES.length} sign-ups and logins:`);
  console.log('service        just after start   idle   goal');
  for (const name of SERVICE_NAMES) {
    const idle = median(readings.get(name) ?? []);
    const met = idle < IDLE_GOAL_MIB;
    failed ||= !met;
    console.log(
      `${name.padEnd(14)} ${(started.get(name) ?? 0).toFixed(0).padStart(16)}   ${idle.toFixed(0).padStart(4)}   < ${IDLE_GOAL_MIB} ${met ? 'met' : 'NOT MET'}`,
    );
  }
} finally {
  await platform.stop();
  mailSink.kill('SIGTERM');
  await deleteBrokerObjects();
}
process.exitCode = failed ? 1 : 0;
