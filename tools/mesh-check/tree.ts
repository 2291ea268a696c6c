// Loads everything the check reads from a repository tree: the rendered overlays (mesh/ is a
// component of each), the compiled protos and the services' code.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MeshModel } from './checks.ts';
import { type CodeFacts, readSources, scanCode } from './code.ts';
import { type Contract, loadContracts } from './contracts.ts';
import { kustomize } from './manifests.ts';

export interface OverlayModel {
  env: string;
  model: MeshModel;
}

export const descriptorSetPath = (root: string): string => join(root, 'proto/gen/descriptor-set.binpb');
export const overlayNames = (root: string): string[] =>
  readdirSync(join(root, 'kustomize/overlays'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();

export function loadCode(root: string, contracts: Map<string, Contract>): CodeFacts {
  return scanCode(readSources(root), contracts);
}

/** What does not depend on the overlay: the contracts and the code. */
export function loadInputs(root: string): Omit<MeshModel, 'objects'> {
  const contracts = loadContracts(descriptorSetPath(root));
  return { contracts, code: loadCode(root, contracts) };
}

/** One model per overlay under kustomize/overlays (or just `envs`). */
export function loadTree(root: string, envs = overlayNames(root)): OverlayModel[] {
  const inputs = loadInputs(root);
  return envs.map((env) => ({ env, model: { objects: kustomize(join(root, 'kustomize/overlays', env)), ...inputs } }));
}
