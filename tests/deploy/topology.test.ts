// mesh/topology.yaml, which `npm run mesh:check` reads instead of the code, must say what the code
// does: the services, who calls which RPCs of whom, and each caller's deadline setting with its
// default. And the code must not retry on top of the mesh, which only the code can show.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from '@jest/globals';
import { loadContracts } from '../../tools/mesh-check/contracts.ts';
import { type CodeFacts, loadTopology, TOPOLOGY_FILE, topologyDifferences } from '../../tools/mesh-check/topology.ts';
import { descriptorSetPath } from '../../tools/mesh-check/tree.ts';
import { readSources, scanCode } from './code-scan.ts';
import { repoRoot } from './render.js';

const contracts = loadContracts(descriptorSetPath(repoRoot));
const sources = readSources(repoRoot);
const fromCode = scanCode(sources, contracts);
const declaredText = readFileSync(join(repoRoot, TOPOLOGY_FILE), 'utf8');

const scratch = mkdtempSync(join(tmpdir(), 'ordermesh-topology-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
/** mesh/topology.yaml with one edit, loaded as mesh:check loads it. */
const declaredWith = (edit: (text: string) => string): CodeFacts => {
  const root = mkdtempSync(join(scratch, 'tree-'));
  mkdirSync(join(root, 'mesh'));
  const text = edit(declaredText);
  if (text === declaredText) throw new Error('the edit changed nothing');
  writeFileSync(join(root, TOPOLOGY_FILE), text);
  return loadTopology(root);
};
/** The code's facts with one source file edited, scanned again. */
const codeWith = (path: string, edit: (text: string) => string): CodeFacts =>
  scanCode(
    sources.map((f) => (f.path === path ? { path, text: edit(f.text) } : f)),
    contracts,
  );

describe('the real tree', () => {
  test(`${TOPOLOGY_FILE} says what the code does`, () => {
    expect(topologyDifferences(loadTopology(repoRoot), fromCode)).toEqual([]);
  });

  test('the code retries nothing on top of the mesh', () => {
    expect(fromCode.stacking).toEqual([]);
  });
});

describe('a declaration that drifted from the code is named', () => {
  test.each<[string, (text: string) => string, string[]]>([
    [
      'a call left out',
      (t) => t.replace('[CancelOrder, CreateOrder, GetOrder,', '[CancelOrder, CreateOrder,'),
      ['call user -> order.GetOrder: in the code, not declared'],
    ],
    [
      'a call the code does not make',
      (t) => t.replace('[Charge, Refund]', '[Charge, GetPayment, Refund]'),
      ['call order -> payment.GetPayment: declared, not in the code'],
    ],
    [
      'another default',
      (t) => t.replace('PAYMENT_TIMEOUT_MS: 2500', 'PAYMENT_TIMEOUT_MS: 3000'),
      ["order: PAYMENT_TIMEOUT_MS is declared with default 3000, the code's default is 2500"],
    ],
    [
      'a deadline setting left out',
      (t) => t.replace('    deadlines:\n      PAYMENT_TIMEOUT_MS: 2500\n', ''),
      ['order: PAYMENT_TIMEOUT_MS, its deadline for payment, is not declared'],
    ],
    [
      'a service the code does not have',
      (t) => t.replace('  payment: {}\n', '  payment: {}\n  billing: {}\n'),
      ['service billing: declared, not in the code'],
    ],
  ])('%s', (_, edit, expected) => {
    expect(topologyDifferences(declaredWith(edit), fromCode)).toEqual(expected);
  });

  test('code that calls more, or with another default, than is declared', () => {
    const moreCalls = codeWith(
      'services/order/src/payment-gateway.ts',
      (t) => `${t}\nexport const probe = (client: PaymentServiceClient) => client.getPayment;\n`,
    );
    expect(topologyDifferences(loadTopology(repoRoot), moreCalls)).toEqual([
      'call order -> payment.GetPayment: in the code, not declared',
    ]);
    const otherDefault = codeWith('services/order/src/config.ts', (t) =>
      t.replace('PAYMENT_TIMEOUT_MS: env.milliseconds(2_500)', 'PAYMENT_TIMEOUT_MS: env.milliseconds(2_000)'),
    );
    expect(topologyDifferences(loadTopology(repoRoot), otherDefault)).toEqual([
      "order: PAYMENT_TIMEOUT_MS is declared with default 2500, the code's default is 2000",
    ]);
  });

  test('a malformed entry is an error naming it', () => {
    expect(() => declaredWith((t) => t.replace('PAYMENT_TIMEOUT_MS: 2500', 'PAYMENT_TIMEOUT_MS: soon'))).toThrow(
      'mesh/topology.yaml: services.order.deadlines.PAYMENT_TIMEOUT_MS is not a number',
    );
    expect(() => declaredWith((t) => t.replace('[Charge, Refund]', 'Charge'))).toThrow(
      'mesh/topology.yaml: services.order.calls.payment is not a list of method names',
    );
  });
});
