/** The chaos suite's result table: one row per scenario, printed at the end and kept as a Markdown file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type InvariantResult, invariantText } from './invariants.ts';
import { failureText, p99Ms, type TrafficResult } from './traffic.ts';

export interface Row {
  scenario: string;
  requests: number;
  failures: string;
  p99Ms: number;
  /** PlaceOrder answers that were the PENDING_PAYMENT fallback, of all accepted. */
  pending: string;
  invariants: string;
  /** What the scenario measured on top, e.g. how long settlement took. */
  observed: string;
}

export function row(scenario: string, result: TrafficResult, invariants: InvariantResult[], observed: string): Row {
  return {
    scenario,
    requests: result.requests,
    failures: failureText(result),
    p99Ms: p99Ms(result),
    pending: `${result.pendingAnswers}/${result.accepted.length}`,
    invariants: invariantText(invariants),
    observed,
  };
}

const HEADER = ['scenario', 'requests', 'failures', 'p99 ms', 'pending/accepted', 'invariants', 'observed'];

export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map((_, i) => (i === 1 || i === 3 ? '---:' : '---')).join(' | ')} |`,
    ...rows.map(
      (r) =>
        `| ${[r.scenario, r.requests, r.failures, r.p99Ms.toFixed(0), r.pending, r.invariants, r.observed].join(' | ')} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function writeTable(file: string, rows: readonly Row[], preface: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${preface}\n\n${markdownTable(rows)}`);
}
