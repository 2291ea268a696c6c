// npm run mesh:check [-- --root <repo> --env <overlay>...]
// Fails (exit 1) when the mesh policy, the protos and the declared call graph (mesh/topology.yaml)
// disagree; see docs/mesh.md. The code is not read here: the tests keep the declaration equal to it.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ENVOY_BACKOFF_BASE_MS, type MeshModel, meshViolations } from './checks.ts';
import { budgetTable, retryTable } from './report.ts';
import { loadTree, overlayNames } from './tree.ts';

export interface MeshCheckResult {
  ok: boolean;
  output: string;
}

export function runMeshCheck(root: string, envs = overlayNames(root)): MeshCheckResult {
  const overlays = loadTree(root, envs);
  // The same problem usually shows in every overlay: print it once with the overlays it affects.
  const problems = new Map<string, string[]>();
  for (const { env, model } of overlays) {
    for (const v of meshViolations(model).map((x) => sameInEveryNamespace(x, model))) {
      problems.set(v, [...(problems.get(v) ?? []), env]);
    }
  }
  if (problems.size > 0) {
    const lines = [...problems].map(([v, where]) => `  [${where.join(', ')}] ${v}`);
    return { ok: false, output: `mesh:check FAILED: ${problems.size} problem(s)\n${lines.join('\n')}` };
  }
  const sections: string[] = [];
  const shown = new Map<string, string[]>();
  for (const { env, model } of overlays) {
    const text = `${budgetTable(model)}\n\n${retryTable(model)}`;
    shown.set(text, [...(shown.get(text) ?? []), env]);
  }
  for (const [text, envNames] of shown) sections.push(`overlays ${envNames.join(', ')}:\n\n${text}`);
  const header =
    `mesh:check OK: ${overlays.length} overlay(s) consistent with mesh/, the protos and the call graph in mesh/topology.yaml.\n` +
    `Worst case = min(timeout, (attempts + 1) x perTryTimeout + back-off); Envoy back-off before retry k is at most ` +
    `min((2^k - 1) x ${ENVOY_BACKOFF_BASE_MS}ms, ${10 * ENVOY_BACKOFF_BASE_MS}ms) unless retries.backoff sets the base.`;
  return { ok: true, output: [header, ...sections].join('\n\n') };
}

/** "VirtualService/ordermesh-dev/user" -> "VirtualService/<ns>/user", so overlays share messages. */
function sameInEveryNamespace(message: string, model: MeshModel): string {
  const ns = model.objects.find((o) => o.kind === 'Namespace')?.metadata.name;
  return ns ? message.replaceAll(new RegExp(`\\b([A-Z][A-Za-z]+)/${ns}/`, 'g'), '$1/<ns>/') : message;
}

function main(): void {
  const { values } = parseArgs({
    options: { root: { type: 'string' }, env: { type: 'string', multiple: true } },
  });
  const root = resolve(values.root ?? process.cwd());
  try {
    const result = runMeshCheck(root, values.env?.length ? values.env : undefined);
    (result.ok ? process.stdout : process.stderr).write(`${result.output}\n`);
    process.exitCode = result.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`mesh:check could not run: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
