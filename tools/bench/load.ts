/**
 * Load generators. Latency is recorded in microseconds in an HDR histogram.
 *
 * closedLoop keeps N calls in flight (throughput at a given concurrency).
 * openLoop starts calls on a fixed schedule whatever the answers do, and
 * measures each call from when it was *meant* to start: when the system (or
 * this generator) falls behind, the wait counts as latency instead of
 * vanishing (coordinated omission). Calls still unsent at the end are
 * reported as dropped, like k6's dropped_iterations.
 */
import hdr, { type Histogram } from 'hdr-histogram-js';

/** One call; resolves to its gRPC status code and never rejects. */
export type Call = () => Promise<number>;

/** Pseudo status for calls an open loop could not send within the step. */
export const DROPPED = -1;

export interface StepResult {
  achievedRate: number;
  /** Calls per second asked for (open loop only). */
  offeredRate?: number;
  concurrency?: number;
  histogram: Histogram;
  /** Status code → count, OK excluded. */
  errors: Map<number, number>;
  completed: number;
}

export const newHistogram = (): Histogram =>
  hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

function recorder() {
  const histogram = newHistogram();
  const errors = new Map<number, number>();
  let completed = 0;
  return {
    record(code: number, microseconds: number) {
      completed += 1;
      histogram.recordValue(Math.max(1, Math.round(microseconds)));
      if (code !== 0) errors.set(code, (errors.get(code) ?? 0) + 1);
    },
    drop(count: number) {
      if (count > 0) errors.set(DROPPED, (errors.get(DROPPED) ?? 0) + count);
    },
    result(seconds: number, extra: Pick<StepResult, 'offeredRate' | 'concurrency'>): StepResult {
      return { achievedRate: completed / seconds, histogram, errors, completed, ...extra };
    },
  };
}

const micros = (fromMs: number) => (performance.now() - fromMs) * 1000;

export async function closedLoop(call: Call, concurrency: number, durationMs: number): Promise<StepResult> {
  const stats = recorder();
  const startedAt = performance.now();
  const endAt = startedAt + durationMs;
  const worker = async () => {
    while (performance.now() < endAt) {
      const callStartedAt = performance.now();
      const code = await call();
      stats.record(code, micros(callStartedAt));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return stats.result((performance.now() - startedAt) / 1000, { concurrency });
}

export async function openLoop(call: Call, rate: number, durationMs: number, maxInFlight = 2048): Promise<StepResult> {
  const [result] = await openLoopTakingTurns([call], rate, durationMs, maxInFlight);
  return result as StepResult;
}

/**
 * One open loop at `rate` that sends `calls` in turn and records each on its
 * own (each at rate / calls.length): they share every moment of the step, so
 * a stall of the machine lands on all of them alike and their latencies can
 * be compared with each other.
 */
export async function openLoopTakingTurns(
  calls: readonly Call[],
  rate: number,
  durationMs: number,
  maxInFlight = 2048,
): Promise<StepResult[]> {
  const stats = calls.map(() => recorder());
  const intervalMs = 1000 / rate;
  const total = Math.floor((durationMs / 1000) * rate);
  const startedAt = performance.now();
  let sent = 0;
  let inFlight = 0;
  const inFlightDone: Array<Promise<void>> = [];
  await new Promise<void>((finished) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - startedAt) / intervalMs) + 1);
      while (sent < due && inFlight < maxInFlight) {
        const intendedAt = startedAt + sent * intervalMs;
        const turn = sent % calls.length;
        sent += 1;
        inFlight += 1;
        inFlightDone.push(
          (calls[turn] as Call)().then((code) => {
            inFlight -= 1;
            stats[turn]?.record(code, micros(intendedAt));
          }),
        );
      }
      if (sent >= total || now - startedAt >= durationMs) finished();
      else setTimeout(tick, Math.max(0, Math.min(1, startedAt + sent * intervalMs - now)));
    };
    tick();
  });
  // The calls the step could not send, each counted against the call whose turn it was.
  for (let unsent = sent; unsent < total; unsent += 1) stats[unsent % calls.length]?.drop(1);
  await Promise.all(inFlightDone);
  return stats.map((turnStats) => turnStats.result(durationMs / 1000, { offeredRate: rate / calls.length }));
}
