// The declared call graph (mesh/topology.yaml) as the checks read it, and how it is compared with
// what the code does. The check itself reads only the declaration; the comparison with the code is
// the tests' job (tests/deploy/topology.test.ts), so no product code is parsed here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface ServiceFacts {
  name: string;
  /** Numeric defaults of the service's settings, by variable (the declaration: its deadline settings). */
  defaults: Record<string, number>;
  /** Settings the service's code reads. */
  reads: Set<string>;
}

export interface CallSite {
  caller: string;
  callee: string;
  /** Proto method name, e.g. "Charge". */
  method: string;
  at: string;
}

/** What the checks know of the services: declared, or read from the code by the tests. */
export interface CodeFacts {
  services: ServiceFacts[];
  /** Caller -> callee services that have a client. */
  clients: { caller: string; callee: string; at: string }[];
  calls: CallSite[];
  /** Retry stacking found in the code, one message each (only the code scan finds any). */
  stacking: string[];
}

export const TOPOLOGY_FILE = 'mesh/topology.yaml';

interface DeclaredService {
  deadlines?: Record<string, number>;
  calls?: Record<string, string[]>;
}

/** Reads mesh/topology.yaml; a malformed entry is an error naming it. */
export function loadTopology(root: string): CodeFacts {
  const document = parse(readFileSync(join(root, TOPOLOGY_FILE), 'utf8')) as { services?: unknown } | null;
  const declared = document?.services;
  if (!declared || typeof declared !== 'object') throw new Error(`${TOPOLOGY_FILE}: no services map`);
  const facts: CodeFacts = { services: [], clients: [], calls: [], stacking: [] };
  for (const [name, value] of Object.entries(declared as Record<string, DeclaredService | null>)) {
    const { deadlines = {}, calls = {} } = value ?? {};
    for (const [setting, ms] of Object.entries(deadlines)) {
      if (typeof ms !== 'number')
        throw new Error(`${TOPOLOGY_FILE}: services.${name}.deadlines.${setting} is not a number`);
    }
    facts.services.push({ name, defaults: { ...deadlines }, reads: new Set(Object.keys(deadlines)) });
    for (const [callee, methods] of Object.entries(calls)) {
      if (!Array.isArray(methods) || methods.some((m) => typeof m !== 'string')) {
        throw new Error(`${TOPOLOGY_FILE}: services.${name}.calls.${callee} is not a list of method names`);
      }
      const at = `${TOPOLOGY_FILE} services.${name}.calls.${callee}`;
      facts.clients.push({ caller: name, callee, at });
      for (const method of methods) facts.calls.push({ caller: name, callee, method, at });
    }
  }
  return facts;
}

const edges = (facts: CodeFacts) => new Set(facts.calls.map((c) => `${c.caller} -> ${c.callee}.${c.method}`));
const clientEdges = (facts: CodeFacts) => new Set(facts.clients.map((c) => `${c.caller} -> ${c.callee}`));
const minus = <T>(a: Set<T>, b: Set<T>) => [...a].filter((x) => !b.has(x)).sort();

/**
 * Where the declaration and the code's facts disagree, one message each (empty when they agree):
 * the services, the clients, the calls, and each declared deadline setting's default and use.
 * A caller's code must also have no deadline setting for a callee that the declaration leaves out.
 */
export function topologyDifferences(declared: CodeFacts, code: CodeFacts): string[] {
  const differences: string[] = [];
  const names = (facts: CodeFacts) => new Set(facts.services.map((s) => s.name));
  for (const name of minus(names(code), names(declared)))
    differences.push(`service ${name}: in the code, not declared`);
  for (const name of minus(names(declared), names(code)))
    differences.push(`service ${name}: declared, not in the code`);
  for (const edge of minus(clientEdges(code), clientEdges(declared)))
    differences.push(`client ${edge}: in the code, not declared`);
  for (const edge of minus(clientEdges(declared), clientEdges(code)))
    differences.push(`client ${edge}: declared, not in the code`);
  for (const edge of minus(edges(code), edges(declared))) differences.push(`call ${edge}: in the code, not declared`);
  for (const edge of minus(edges(declared), edges(code))) differences.push(`call ${edge}: declared, not in the code`);
  for (const service of declared.services) {
    const inCode = code.services.find((s) => s.name === service.name);
    if (!inCode) continue;
    for (const [setting, ms] of Object.entries(service.defaults)) {
      if (inCode.defaults[setting] !== ms) {
        differences.push(
          `${service.name}: ${setting} is declared with default ${ms}, the code's default is ${inCode.defaults[setting] ?? 'missing'}`,
        );
      } else if (!inCode.reads.has(setting)) {
        differences.push(`${service.name}: ${setting} is declared, but the code never reads it`);
      }
    }
    const callees = new Set(code.clients.filter((c) => c.caller === service.name).map((c) => c.callee));
    for (const callee of callees) {
      const setting = [`${callee.toUpperCase()}_TIMEOUT_MS`, 'DOWNSTREAM_TIMEOUT_MS'].find((s) => s in inCode.defaults);
      if (setting && !(setting in service.defaults)) {
        differences.push(`${service.name}: ${setting}, its deadline for ${callee}, is not declared`);
      }
    }
  }
  return differences;
}
