import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PROFILE_NAMES, profileOptions } from '../../load-tests/lib/profiles.ts';
import { importProblems, importSpecifiers, scenarioProblems } from './k6-shape.ts';

const ROOT = join(import.meta.dirname, '../..');
const LOAD_TESTS = join(ROOT, 'load-tests');
const K6_TYPES = join(ROOT, 'node_modules/@types/k6');

function loadTestSources(): Map<string, string> {
  const files = readdirSync(LOAD_TESTS, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return new Map(files.map((file) => [relative('.', file), readFileSync(join(LOAD_TESTS, file), 'utf8')]));
}

describe('k6 load-test scripts', () => {
  const sources = loadTestSources();

  it('import only k6 modules and their own files', () => {
    expect(sources.has('ordermesh.ts')).toBe(true);
    expect(importSpecifiers(sources.get('ordermesh.ts') ?? '')).toContain('k6/execution');
    expect(importProblems(sources, K6_TYPES)).toEqual([]);
  });

  it('flag imports k6 cannot resolve', () => {
    const broken = new Map(sources);
    const entry = sources.get('ordermesh.ts') ?? '';
    broken.set(
      'ordermesh.ts',
      `import axios from 'axios';\nimport { x } from 'k6/nope';\nimport './lib/missing.ts';\n${entry}`,
    );
    broken.set('lib/node.ts', "import { readFileSync } from 'node:fs';\nexport const read = () => require('fs');\n");
    expect(importProblems(broken, K6_TYPES)).toEqual([
      "ordermesh.ts: 'axios' is neither a k6 module nor a file of the load tests",
      "ordermesh.ts: 'k6/nope' is not a k6 module",
      "ordermesh.ts: './lib/missing.ts' is not a .ts file of the load tests",
      'lib/node.ts: uses require(), which k6 scripts cannot',
      "lib/node.ts: 'node:fs' is neither a k6 module nor a file of the load tests",
    ]);
  });

  it.each(PROFILE_NAMES)('profile %s: arrival-rate scenarios, each with latency and error thresholds', (profile) => {
    const options = profileOptions(profile, 50);
    expect(Object.keys(options.scenarios ?? {}).sort()).toEqual(['getProfile', 'listMyOrders', 'placeOrder']);
    expect(scenarioProblems(profile, options)).toEqual([]);
  });

  it('flags a scenario without thresholds or with a closed-model executor', () => {
    const options = profileOptions('average', 50);
    const {
      'rpc_errors{rpc:PlaceOrder}': _errors,
      'grpc_req_duration{rpc:GetProfile}': _latency,
      ...rest
    } = options.thresholds ?? {};
    const scenarios = {
      ...options.scenarios,
      listMyOrders: {
        executor: 'constant-vus' as const,
        vus: 5,
        duration: '1m',
        exec: 'listMyOrders',
        tags: { rpc: 'ListMyOrders' },
      },
    };
    expect(scenarioProblems('average', { ...options, thresholds: rest, scenarios })).toEqual([
      'average.getProfile: no p(95) threshold for GetProfile',
      'average.getProfile: no p(99) threshold for GetProfile',
      'average.listMyOrders: constant-vus is not arrival-rate',
      'average.placeOrder: no error-rate threshold for PlaceOrder',
    ]);
  });

  it('type-check against @types/k6', () => {
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(LOAD_TESTS, 'tsconfig.json')],
      {
        encoding: 'utf8',
      },
    );
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });
});
