// Loads everything the check reads from a repository tree: the rendered overlays (mesh/ is a
// component of each), the compiled protos and the declared call graph (mesh/topology.yaml).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MeshModel } from './checks.ts';
import { loadContracts } from './contracts.ts';
import { kustomize } from './manifests.ts';
import { loadTopology } from './topology.ts';

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

/** What does not depend on the overlay: the contracts and the declared topology. */
export function loadInputs(root: string): Omit<MeshModel, 'objects'> {
  return { contracts: loadContracts(descriptorSetPath(root)), code: loadTopology(root) };
}

/** One model per overlay under kustomize/overlays (or just `envs`). */
export function loadTree(root: string, envs = overlayNames(root)): OverlayModel[] {
  const inputs = loadInputs(root);
  return envs.map((env) => ({ env, model: { objects: kustomize(join(root, 'kustomize/overlays', env)), ...inputs } }));
}
