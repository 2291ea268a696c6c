// Loading Kubernetes/Istio manifests: kustomize rendering, YAML documents, durations.
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are untyped YAML; the checks narrow as they go.
export type Json = any;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Json;
  [field: string]: Json;
}

export const id = (o: K8sObject): string => `${o.kind}/${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
export const ofKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
export const named = (objects: K8sObject[], kind: string, name: string): K8sObject | undefined =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

/** Parses an Istio/Go duration ("2.5s", "300ms", "1m") into milliseconds. */
export function durationMs(value: unknown): number {
  if (typeof value !== 'string') throw new Error(`not a duration: ${String(value)}`);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Number(m[1]) * factor;
}

export function parseYamlDocs(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** Renders a kustomization directory with `kubectl kustomize` (or `$KUSTOMIZE_BIN build`). */
export function kustomize(dir: string, extraArgs: string[] = []): K8sObject[] {
  const [cmd, args] = process.env.KUSTOMIZE_BIN ? [process.env.KUSTOMIZE_BIN, ['build']] : ['kubectl', ['kustomize']];
  try {
    const rendered = execFileSync(cmd, [...args, ...extraArgs, dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return parseYamlDocs(rendered);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(
        `cannot render ${dir}: ${cmd} is not installed; get kubectl 1.27+ from the Kubernetes apt repository, or set KUSTOMIZE_BIN (README.md, Prerequisites)`,
      );
    throw new Error(`cannot render ${dir} with ${cmd}: ${(error as Error).message}`);
  }
}
