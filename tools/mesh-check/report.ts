// The summary printed when the mesh is consistent: call budgets and what is retried and why it is safe.
import {
  deadlineOf,
  edgesOf,
  INGRESS,
  type MeshModel,
  methodBindings,
  type Route,
  routeBudget,
  routeId,
} from './checks.ts';
import { IDEMPOTENCY_KEY_FIELD, type RpcMethod } from './contracts.ts';

/** VirtualService name and route name, the same in every overlay. */
export const shortRouteId = (r: Route): string => `${r.vs.metadata.name}#${r.route.name ?? '?'}`;

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** caller -> callee per route of the callee: the caller's deadline against the callee's worst case. */
export function budgetTable(model: MeshModel): string {
  const bindings = methodBindings(model);
  const groups = new Map<string, { caller: string; callee: string; methods: string[]; routeKey: string }>();
  for (const e of edgesOf(model)) {
    const b = bindings.find((x) => !x.route.ingress && x.contract === e.contract && x.method === e.method);
    if (!b) continue;
    const key = `${e.caller}|${e.callee}|${routeId(b.route)}`;
    const g = groups.get(key) ?? { caller: e.caller, callee: e.callee, methods: [], routeKey: routeId(b.route) };
    g.methods.push(e.method.name);
    groups.set(key, g);
  }
  const rows: string[][] = [];
  for (const g of groups.values()) {
    const b = bindings.find((x) => routeId(x.route) === g.routeKey);
    if (!b) continue;
    const worst = routeBudget(b.route.route);
    const deadline = deadlineOf(model, g.caller, g.callee);
    const perTry = Math.min(
      ...bindings.filter((x) => x.contract.service === g.caller).map((x) => routeBudget(x.route.route).perTryMs),
    );
    rows.push([
      `${g.caller} -> ${g.callee}`,
      g.methods.sort().join(' '),
      typeof deadline === 'string' ? deadline : `${deadline.setting}=${deadline.ms}ms`,
      `${worst.worstMs}ms = ${worst.explain}`,
      `${perTry}ms`,
    ]);
  }
  const ingress = new Map<string, { callee: string; methods: string[]; route: (typeof bindings)[number]['route'] }>();
  for (const b of bindings.filter((x) => x.route.ingress)) {
    const key = routeId(b.route);
    const g = ingress.get(key) ?? { callee: b.contract.service, methods: [], route: b.route };
    g.methods.push(b.method.name);
    ingress.set(key, g);
  }
  for (const g of ingress.values()) {
    const worst = routeBudget(g.route.route);
    const methods = g.methods.length > 3 ? `${g.methods.length} methods` : g.methods.join(' ');
    rows.push([
      `${INGRESS} -> ${g.callee}`,
      methods,
      "client's deadline",
      `${worst.worstMs}ms = ${worst.explain}`,
      '-',
    ]);
  }
  return table(['call', 'methods', 'caller deadline', "callee's worst case (mesh)", 'caller per-try'], rows);
}

const why = (m: RpcMethod): string =>
  [m.idempotency !== 'UNKNOWN' ? m.idempotency : '', m.idempotencyKey ? IDEMPOTENCY_KEY_FIELD : '']
    .filter(Boolean)
    .join(' + ') || 'only retried when never sent';

/** Each route that retries and its methods, grouped by why a retry of them is safe. */
export function retryTable(model: MeshModel): string {
  const rows = new Map<string, { route: string; retries: string; byReason: Map<string, string[]> }>();
  for (const b of methodBindings(model)) {
    const retries = b.route.route.retries;
    if (!retries?.attempts) continue;
    const key = shortRouteId(b.route);
    const row = rows.get(key) ?? {
      route: key,
      retries: `${retries.attempts} on ${retries.retryOn}`,
      byReason: new Map(),
    };
    const reason = why(b.method);
    row.byReason.set(reason, [...(row.byReason.get(reason) ?? []), b.method.name]);
    rows.set(key, row);
  }
  const cells = [...rows.values()].map((r) => [
    r.route,
    r.retries,
    [...r.byReason].map(([reason, methods]) => `${reason}: ${methods.join(' ')}`).join('; '),
  ]);
  return table(['route', 'retries', 'why a retry is safe: methods'], cells);
}
