// What the services' code says about the mesh: who calls whom (and which methods), the deadline
// settings and their defaults, and whether the app retries on top of the mesh. Read from the
// TypeScript sources with SWC's parser, for the tests: they hold mesh/topology.yaml, which
// `npm run mesh:check` reads, equal to these facts, and find retry stacking in the code.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseSync } from '@swc/core';
import type { Contract } from '../../tools/mesh-check/contracts.ts';
import type { CodeFacts, ServiceFacts } from '../../tools/mesh-check/topology.ts';

export interface SourceFile {
  /** Relative to the repository root, with forward slashes. */
  path: string;
  text: string;
}

/** The app code of every service and the kit: services/<name>/src and services/kit/<package>/src, without tests and generated code. */
export function readSources(root: string): SourceFile[] {
  const files: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) {
        if (entry !== 'generated' && entry !== 'node_modules') walk(full);
      } else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.d.ts')) {
        files.push({ path: relative(root, full).split('\\').join('/'), text: readFileSync(full, 'utf8') });
      }
    }
  };
  const sourceDirs = (dir: string) =>
    readdirSync(dir)
      .sort()
      .map((name) => join(dir, name, 'src'));
  for (const src of [...sourceDirs(join(root, 'services')), ...sourceDirs(join(root, 'services', 'kit'))]) {
    if (statSync(src, { throwIfNoEntry: false })?.isDirectory()) walk(src);
  }
  return files;
}

// ---- a small generic view of SWC's AST ---------------------------------------------------------

interface Node {
  type: string;
  span?: { start: number; end: number };
  [key: string]: unknown;
}
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && typeof (v as Node).type === 'string';
const child = (n: Node, key: string): Node | undefined => (isNode(n[key]) ? (n[key] as Node) : undefined);
/**
 * Visits every node with its ancestors (nearest last). SWC wraps some nodes in plain objects
 * without a type (call arguments, a class method's function), so those are walked through too.
 */
function visit(node: Node, fn: (n: Node, ancestors: Node[]) => void, ancestors: Node[] = []): void {
  fn(node, ancestors);
  ancestors.push(node);
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) for (const x of value) walk(x);
    else if (isNode(value)) visit(value, fn, ancestors);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) if (k !== 'span') walk(v);
  };
  for (const [key, v] of Object.entries(node)) if (key !== 'span') walk(v);
  ancestors.pop();
}

const identName = (n: Node | undefined): string | undefined =>
  n?.type === 'Identifier' ? (n.value as string) : n?.type === 'StringLiteral' ? (n.value as string) : undefined;
const memberName = (n: Node): string | undefined =>
  n.type === 'MemberExpression' ? identName(child(n, 'property')) : undefined;
const calleeName = (n: Node): string | undefined => {
  const callee = child(n, 'callee');
  return callee ? (identName(callee) ?? memberName(callee)) : undefined;
};
const args = (n: Node): Node[] => ((n.arguments as { expression: Node }[] | undefined) ?? []).map((a) => a.expression);

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ClassMethod', 'MethodProperty']);
const LOOPS = new Set(['ForStatement', 'ForInStatement', 'ForOfStatement', 'WhileStatement', 'DoWhileStatement']);
/** Names that mark a wait between attempts (the kit's backoff.ts, timers). */
const BACKOFF_CALLS = new Set(['sleep', 'backoffDelay', 'setTimeout']);
/** gRPC service-config keys that make grpc-js itself retry. */
const RETRY_CONFIG_KEYS = new Set(['retryPolicy', 'hedgingPolicy', 'retryThrottling']);

class Parsed {
  readonly ast: Node;
  readonly file: SourceFile;
  private readonly lineStarts: number[] = [0];
  constructor(file: SourceFile) {
    this.file = file;
    this.ast = parseSync(file.text, { syntax: 'typescript', target: 'es2022' }) as unknown as Node;
    // SWC spans are UTF-8 byte offsets, 1-based.
    const bytes = Buffer.from(file.text, 'utf8');
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) this.lineStarts.push(i + 1);
  }
  at(n: Node): string {
    const offset = (n.span?.start ?? 1) - 1;
    let line = 0;
    while (line + 1 < this.lineStarts.length && (this.lineStarts[line + 1] ?? 0) <= offset) line++;
    return `${this.file.path}:${line + 1}`;
  }
}

const serviceOf = (path: string): string | undefined => /^services\/([^/]+)\/src\//.exec(path)?.[1];

/** Finds the numeric defaults in `export const configShape = { ... }` of services/<name>/src/config.ts. */
function configDefaults(p: Parsed): Record<string, number> {
  const defaults: Record<string, number> = {};
  visit(p.ast, (n) => {
    if (n.type !== 'VariableDeclarator' || identName(child(n, 'id')) !== 'configShape') return;
    const init = child(n, 'init');
    for (const prop of (init?.properties as Node[] | undefined) ?? []) {
      if (prop.type !== 'KeyValueProperty') continue;
      const key = identName(child(prop, 'key'));
      const value = child(prop, 'value');
      if (!key || value?.type !== 'CallExpression') continue;
      const last = args(value).at(-1);
      if (last?.type === 'NumericLiteral') defaults[key] = last.value as number;
    }
  });
  return defaults;
}

/**
 * Scans the sources. Call sites are member accesses `<x>.<rpc>` (e.g. `orders.createOrder.bind(orders)`)
 * in a file that imports the callee's generated client, where <rpc> is one of the callee's methods,
 * plus every `callUnary(...)`. A call site is retry stacking when, within its function, it sits in a
 * loop, in a catch block (a second try after a failure), next to a back-off wait, or in a function
 * that calls itself.
 */
export function scanCode(files: SourceFile[], contracts: Map<string, Contract>): CodeFacts {
  const services = new Map<string, ServiceFacts>();
  const facts: CodeFacts = { services: [], clients: [], calls: [], stacking: [] };
  const parsed = files.map((f) => new Parsed(f));
  for (const p of parsed) {
    const svc = serviceOf(p.file.path);
    if (!svc || svc === 'kit' || !p.file.path.endsWith('/src/config.ts')) continue;
    services.set(svc, { name: svc, defaults: configDefaults(p), reads: new Set() });
  }

  for (const p of parsed) {
    const caller = serviceOf(p.file.path);
    const inKit = caller === 'kit';
    // Local names of imported generated clients -> callee service.
    const clientImports = new Map<string, string>();
    visit(p.ast, (n) => {
      if (n.type !== 'ImportDeclaration') return;
      const from = /^@ordermesh\/proto\/(\w+)$/.exec(String(child(n, 'source')?.value ?? ''))?.[1];
      if (!from) return;
      for (const s of (n.specifiers as Node[] | undefined) ?? []) {
        const local = identName(child(s, 'local'));
        const imported = identName(child(s, 'imported')) ?? local;
        if (local && imported?.endsWith('ServiceClient')) clientImports.set(local, from);
      }
    });
    const callees = [...new Set(clientImports.values())];

    visit(p.ast, (n, ancestors) => {
      // Channel configuration that makes grpc-js retry by itself.
      if (n.type === 'KeyValueProperty') {
        const key = identName(child(n, 'key'));
        if (key === 'grpc.service_config' || (key && RETRY_CONFIG_KEYS.has(key))) {
          facts.stacking.push(`${p.at(n)}: sets ${key}: gRPC clients must not carry a retry policy of their own`);
        }
      }
      if (n.type === 'StringLiteral' && /"(retryPolicy|hedgingPolicy)"/.test(String(n.value))) {
        facts.stacking.push(`${p.at(n)}: a service config with a retry/hedging policy: retries belong to the mesh`);
      }
      if (n.type === 'MemberExpression' && identName(child(n, 'object')) === 'config' && caller) {
        const read = identName(child(n, 'property'));
        if (read) services.get(caller)?.reads.add(read);
      }
      if (!caller || inKit) return;
      if (n.type === 'NewExpression' && clientImports.has(identName(child(n, 'callee')) ?? '')) {
        facts.stacking.push(
          `${p.at(n)}: ${identName(child(n, 'callee'))} is constructed directly; use the kit's createClient so the channel options (no app-level retries) apply`,
        );
      }
      if (n.type === 'CallExpression' && calleeName(n) === 'createClient') {
        const callee = clientImports.get(identName(args(n)[0]) ?? '');
        if (callee) facts.clients.push({ caller, callee, at: p.at(n) });
      }
      let site: { callee?: string; method?: string } | undefined;
      if (n.type === 'CallExpression' && calleeName(n) === 'callUnary') site = {};
      const prop = memberName(n);
      if (prop) {
        for (const callee of callees) {
          const method = contracts.get(callee)?.methods.find((m) => m.clientName === prop);
          if (method) {
            site = { callee, method: method.name };
            facts.calls.push({ caller, callee, method: method.name, at: p.at(n) });
          }
        }
      }
      if (site) {
        const what = site.method ? `${site.callee}.${site.method}` : 'callUnary';
        const problem = stackingContext(ancestors);
        if (problem) facts.stacking.push(`${p.at(n)}: ${caller} calls ${what} ${problem}: the mesh already retries it`);
      }
    });
  }
  facts.services = [...services.values()].sort((a, b) => a.name.localeCompare(b.name));
  const kit = parsed.find((p) => p.file.path === KIT_CLIENT);
  facts.stacking.push(...(kit ? kitClientProblems(kit) : [`${KIT_CLIENT}: not found, so no client options are known`]));
  return facts;
}

export const KIT_CLIENT = 'services/kit/grpc/src/grpc-client.ts';

/**
 * grpc-js retries by itself only with a retryPolicy from a service config: one passed in the channel
 * options (caught above) or one the DNS resolver reads from a TXT record. The kit's clientOptions
 * must turn the latter off, and createClient must use them. (`grpc.enable_retries: 0` would also
 * switch off the retries Istio sends to proxyless xDS clients, so it is not the switch to use.)
 */
function kitClientProblems(p: Parsed): string[] {
  let options: Node | undefined;
  let create: Node | undefined;
  visit(p.ast, (n) => {
    if (n.type === 'VariableDeclarator' && identName(child(n, 'id')) === 'clientOptions') options = child(n, 'init');
    if (n.type === 'FunctionDeclaration' && identName(child(n, 'identifier')) === 'createClient') create = n;
  });
  const problems: string[] = [];
  const disables = ((options?.properties as Node[] | undefined) ?? []).some(
    (prop) =>
      identName(child(prop, 'key')) === 'grpc.service_config_disable_resolution' &&
      child(prop, 'value')?.type === 'NumericLiteral' &&
      child(prop, 'value')?.value === 1,
  );
  if (!disables) {
    problems.push(
      `${options ? p.at(options) : KIT_CLIENT}: clientOptions must set 'grpc.service_config_disable_resolution': 1, or a DNS TXT record can add a retryPolicy on top of the mesh`,
    );
  }
  let usesOptions = false;
  if (create) visit(create, (n) => (usesOptions ||= identName(n) === 'clientOptions' && n.type === 'Identifier'));
  if (!usesOptions) problems.push(`${KIT_CLIENT}: createClient must build every client with clientOptions`);
  return problems;
}

/** Why a call site with these ancestors is an app-level retry, or undefined. */
function stackingContext(ancestors: Node[]): string | undefined {
  let fn: Node | undefined;
  for (let i = ancestors.length - 1; i >= 0; i--) {
    const a = ancestors[i] as Node;
    if (FUNCTIONS.has(a.type)) {
      fn = a;
      break;
    }
    if (LOOPS.has(a.type)) return `inside a ${a.type.replace('Statement', '')} loop`;
    if (a.type === 'CatchClause') return 'inside a catch block';
  }
  if (!fn) return undefined;
  const fnName =
    identName(child(fn, 'identifier')) ?? identName(child(fn, 'key')) ?? functionVariableName(ancestors, fn);
  let found: string | undefined;
  visit(fn, (n) => {
    if (found || n.type !== 'CallExpression') return;
    const name = calleeName(n);
    if (name && BACKOFF_CALLS.has(name)) found = `in a function that also waits (${name})`;
    else if (name && name === fnName) found = `in ${fnName}, which calls itself`;
  });
  return found;
}

function functionVariableName(ancestors: Node[], fn: Node): string | undefined {
  const parent = ancestors[ancestors.indexOf(fn) - 1];
  return parent?.type === 'VariableDeclarator' ? identName(child(parent, 'id')) : undefined;
}
