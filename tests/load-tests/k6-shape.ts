/**
 * Structural checks of the k6 scripts, for the test next to this file: k6 is
 * not installed here, so nothing runs them, but they can still be held to
 * what k6 needs. Each check returns its problems as sentences; none is a pass.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import type { Options } from 'k6/options';

/** Static imports and re-exports (`import x from '…'`, `import '…'`, `export … from '…'`) and dynamic import(). */
const IMPORT_PATTERN =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g;

export function importSpecifiers(source: string): string[] {
  return [...source.matchAll(IMPORT_PATTERN)].map((match) => match[1] ?? match[2] ?? match[3] ?? '');
}

/**
 * Every import must be a k6 module that @types/k6 declares, or a relative
 * .ts file among `files` (paths relative to the load-tests folder): k6 has no
 * node_modules and no Node built-ins. `require` is not k6 either.
 */
export function importProblems(files: ReadonlyMap<string, string>, k6TypesDir: string): string[] {
  const problems: string[] = [];
  for (const [file, source] of files) {
    if (/\brequire\s*\(/.test(source)) problems.push(`${file}: uses require(), which k6 scripts cannot`);
    for (const specifier of importSpecifiers(source)) {
      if (specifier === 'k6' || specifier.startsWith('k6/')) {
        const declared = join(k6TypesDir, specifier.slice(2), 'index.d.ts');
        if (!existsSync(declared)) problems.push(`${file}: '${specifier}' is not a k6 module`);
      } else if (specifier.startsWith('./') || specifier.startsWith('../')) {
        const target = normalize(join(dirname(file), specifier));
        if (!specifier.endsWith('.ts') || !files.has(target) || relative('.', target).startsWith('..')) {
          problems.push(`${file}: '${specifier}' is not a .ts file of the load tests`);
        }
      } else {
        problems.push(`${file}: '${specifier}' is neither a k6 module nor a file of the load tests`);
      }
    }
  }
  return problems;
}

const ARRIVAL_RATE = new Set(['constant-arrival-rate', 'ramping-arrival-rate']);

/**
 * Each scenario must use an arrival-rate executor, carry an rpc tag, and have
 * thresholds on that RPC's p95 and p99 latency and on its error rate; the
 * run as a whole must have a threshold on the status checks.
 */
export function scenarioProblems(profile: string, options: Options): string[] {
  const problems: string[] = [];
  const thresholds = options.thresholds ?? {};
  const scenarios = Object.entries(options.scenarios ?? {});
  if (scenarios.length === 0) problems.push(`${profile}: no scenarios`);
  if (!thresholds.checks) problems.push(`${profile}: no threshold on checks`);
  for (const [name, scenario] of scenarios) {
    if (!ARRIVAL_RATE.has(scenario.executor))
      problems.push(`${profile}.${name}: ${scenario.executor} is not arrival-rate`);
    const rpc = scenario.tags?.rpc;
    if (!rpc) {
      problems.push(`${profile}.${name}: no rpc tag`);
      continue;
    }
    const latency = (thresholds[`grpc_req_duration{rpc:${rpc}}`] ?? []).map(String);
    for (const percentile of ['p(95)', 'p(99)']) {
      if (!latency.some((rule) => rule.startsWith(percentile))) {
        problems.push(`${profile}.${name}: no ${percentile} threshold for ${rpc}`);
      }
    }
    if (!thresholds[`rpc_errors{rpc:${rpc}}`]) problems.push(`${profile}.${name}: no error-rate threshold for ${rpc}`);
  }
  return problems;
}
