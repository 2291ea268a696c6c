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
  /** Events during the step (platform only), from the services' own metrics. */
  events?: StepEvents;
}

export interface StepEvents {
  /** Events the step's successful calls wrote (PlaceOrder: order.placed and payment.succeeded). */
  produced: number;
  /** Events NotificationService handled, and those whose handling failed. */
  processed: number;
  failed: number;
  /** Events the order and payment outbox relays published, and the publishes (batches) it took. */
  published: number;
  publishes: number;
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
    if (step.events && step.events.produced > 0) console.log(`${' '.repeat(24)}${eventsText(step.events)}`);
  }
}

/** Successful calls of a step and its length in seconds; undefined when nothing succeeded. */
function okCalls(step: Step): { ok: number; seconds: number } | undefined {
  const ok = step.result.completed - [...step.result.errors.values()].reduce((a, b) => a + b, 0);
  const seconds = step.result.completed / step.result.achievedRate;
  return ok > 0 && Number.isFinite(seconds) ? { ok, seconds } : undefined;
}

/**
 * CPU milliseconds per successful call: each service process, and PostgreSQL (all its
 * processes on the machine, so colleagues' queries land in it too; see docs/performance.md).
 */
export function cpuPerCallMs(
  step: Step,
): { services: Map<string, number>; total: number; postgres: number } | undefined {
  const calls = okCalls(step);
  if (!calls) return undefined;
  const perCall = (cores: number) => (cores * calls.seconds * 1000) / calls.ok;
  const services = new Map(
    [...step.cpu].filter(([name]) => !SHARED.has(name)).map(([name, cores]) => [name, perCall(cores)]),
  );
  const total = [...services.values()].reduce((a, b) => a + b, 0);
  return { services, total, postgres: perCall(step.cpu.get('postgres') ?? 0) };
}

/**
 * Service CPU, PostgreSQL CPU and database round trips per successful call: the
 * figures that stay put when colleagues' jobs share the cores (throughput and
 * latency do not). Service CPU is the service processes only; the other shared
 * servers and the load generator are left out.
 */
export function costPerCall(step: Step): string | undefined {
  const cpu = cpuPerCallMs(step);
  const calls = okCalls(step);
  if (!cpu || !calls) return undefined;
  let text = `per call: service cpu ${cpu.total.toFixed(1)} ms (${processText(cpu.services, (v) => v.toFixed(1))}); postgres cpu ${cpu.postgres.toFixed(1)} ms`;
  if (step.queries) {
    const perCallQueries = new Map([...step.queries].map(([name, count]) => [name, count / calls.ok]));
    const total = [...perCallQueries.values()].reduce((a, b) => a + b, 0);
    text += `; db round trips ${total.toFixed(1)} (${processText(perCallQueries, (v) => v.toFixed(1))})`;
  }
  return text;
}

/** Whether NotificationService kept up with the events the step wrote, and how the relays batched them. */
export function eventsText(events: StepEvents): string {
  const failed = events.failed > 0 ? `, ${events.failed.toFixed(0)} failed` : '';
  const perBatch = events.publishes > 0 ? (events.published / events.publishes).toFixed(1) : '-';
  return `notification events: produced ${events.produced.toFixed(0)}, processed ${events.processed.toFixed(0)}${failed}; outbox: ${events.published.toFixed(0)} published in ${events.publishes.toFixed(0)} batches (${perBatch} per batch)`;
}

const SHARED = new Set(['loadgen', 'postgres', 'redis', 'rabbitmq', 'smtp']);

export function printTargets(targets: readonly Target[]): void {
  const width = Math.max(56, ...targets.map((target) => target.name.length));
  console.log(`\n${'target'.padEnd(width)} ${'value'.padEnd(12)} ${'goal'.padEnd(10)} met`);
  for (const target of targets) {
    console.log(
      `${target.name.padEnd(width)} ${target.value.padEnd(12)} ${target.goal.padEnd(10)} ${target.met ? 'yes' : 'NO'}`,
    );
  }
}
