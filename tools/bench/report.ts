/** Prints the steps as a table, then each target as a ratio to the bare baseline of the same run. */
import { status } from '@grpc/grpc-js';
import { DROPPED, type StepResult } from './load.ts';

export interface Step {
  scenario: string;
  system: 'platform' | 'bare';
  load: string;
  result: StepResult;
  /** Process → share of one core during the step. */
  cpu: Map<string, number>;
  /** Process → peak RSS (MiB) since it started. */
  peakRss: Map<string, number>;
  /** Service → database queries made during the step (platform only). */
  queries?: Map<string, number>;
}

export interface Target {
  name: string;
  value: string;
  goal: string;
  met: boolean;
}

const ms = (microseconds: number) => (microseconds / 1000).toFixed(microseconds < 10_000 ? 2 : 1);
const pad = (text: string, width: number) => text.padStart(width);

export const percentileMs = (result: StepResult, percentile: number) =>
  result.histogram.getValueAtPercentile(percentile) / 1000;

function errorText(errors: Map<number, number>): string {
  if (errors.size === 0) return '0';
  return [...errors].map(([code, count]) => `${code === DROPPED ? 'DROPPED' : status[code]}=${count}`).join(' ');
}

const processText = (values: Map<string, number>, format: (value: number) => string) =>
  [...values].map(([name, value]) => `${name.slice(0, 6)} ${format(value)}`).join(', ');

export function printSteps(steps: readonly Step[]): void {
  const header = [
    'scenario',
    'system',
    'load',
    'offered/s',
    'achieved/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p99.9 ms',
    'errors',
  ];
  const widths = [22, 8, 18, 9, 10, 8, 8, 8, 9, 0];
  console.log(header.map((h, i) => (i < 3 ? h.padEnd(widths[i] ?? 0) : pad(h, widths[i] ?? 0))).join(' '));
  for (const step of steps) {
    const { result } = step;
    const row = [
      step.scenario.padEnd(22),
      step.system.padEnd(8),
      step.load.padEnd(18),
      pad(result.offeredRate ? result.offeredRate.toFixed(0) : '-', 9),
      pad(result.achievedRate.toFixed(0), 10),
      ...[50, 90, 99, 99.9].map((p, i) => pad(ms(result.histogram.getValueAtPercentile(p)), i === 3 ? 9 : 8)),
      errorText(result.errors),
    ];
    console.log(row.join(' '));
    console.log(
      `${' '.repeat(24)}cpu (cores): ${processText(step.cpu, (v) => v.toFixed(2))}; peak rss MiB: ${processText(step.peakRss, (v) => v.toFixed(0))}`,
    );
    const perCall = costPerCall(step);
    if (perCall) console.log(`${' '.repeat(24)}${perCall}`);
  }
}

/**
 * Service CPU and database round trips per successful call: the figures that
 * stay put when colleagues' jobs share the cores (throughput and latency do not).
 * The service processes only; the shared servers and the load generator are left out.
 */
export function costPerCall(step: Step): string | undefined {
  const ok = step.result.completed - [...step.result.errors.values()].reduce((a, b) => a + b, 0);
  const seconds = step.result.completed / step.result.achievedRate;
  if (ok <= 0 || !Number.isFinite(seconds)) return undefined;
  const services = [...step.cpu].filter(([name]) => !SHARED.has(name));
  const cpuMs = new Map(services.map(([name, cores]) => [name, (cores * seconds * 1000) / ok]));
  const totalCpu = [...cpuMs.values()].reduce((a, b) => a + b, 0);
  let text = `per call: service cpu ${totalCpu.toFixed(1)} ms (${processText(cpuMs, (v) => v.toFixed(1))})`;
  if (step.queries) {
    const perCallQueries = new Map([...step.queries].map(([name, count]) => [name, count / ok]));
    const total = [...perCallQueries.values()].reduce((a, b) => a + b, 0);
    text += `; db round trips ${total.toFixed(1)} (${processText(perCallQueries, (v) => v.toFixed(1))})`;
  }
  return text;
}

const SHARED = new Set(['loadgen', 'postgres', 'redis', 'rabbitmq', 'smtp']);

export function printTargets(targets: readonly Target[]): void {
  console.log('\ntarget                                                   value        goal       met');
  for (const target of targets) {
    console.log(
      `${target.name.padEnd(56)} ${target.value.padEnd(12)} ${target.goal.padEnd(10)} ${target.met ? 'yes' : 'NO'}`,
    );
  }
}
