import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '@ordermesh/dev/platform';
import { parse, stringify } from 'yaml';

export const RULE_FILE = join(ROOT, 'kustomize/components/observability/prometheus-rule.yaml');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The rule groups of the PrometheusRule, as a plain Prometheus rules file's content. */
export function ruleGroups(): { groups: { name: string; rules: AlertRule[] }[] } {
  const resource = parse(readFileSync(RULE_FILE, 'utf8')) as {
    spec: { groups: { name: string; rules: AlertRule[] }[] };
  };
  return { groups: resource.spec.groups };
}

export const alertRules = () => ruleGroups().groups.flatMap((group) => group.rules);

/** Fails with the way out when the Debian prometheus package is missing (CI runs the installer first). */
export function requireBinary(name: 'prometheus' | 'promtool'): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} not found: run tools/ci/install-observability.sh`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface ScrapeTarget {
  app: string;
  port: number;
}

export interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A real Prometheus server for one suite: loopback only, a free port, its own
 * data directory, scraping `targets` every second with the labels the cluster's
 * PodMonitor gives them (app, namespace), and evaluating the alert rules.
 */
export async function startPrometheus(targets: ScrapeTarget[], namespace: string) {
  const binary = requireBinary('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'ordermesh-prometheus-'));
  const port = await freePort();
  writeFileSync(join(dir, 'rules.yaml'), stringify(ruleGroups()));
  writeFileSync(
    join(dir, 'prometheus.yaml'),
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [join(dir, 'rules.yaml')],
      scrape_configs: targets.map(({ app, port: target }) => ({
        job_name: app,
        static_configs: [{ targets: [`127.0.0.1:${target}`], labels: { app, namespace } }],
      })),
    }),
  );
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yaml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const ready = await fetch(`${base}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > until) throw new Error(`prometheus not ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  async function api<T>(path: string): Promise<T> {
    const body = (await (await fetch(`${base}${path}`)).json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? body.status}`);
    return body.data;
  }

  return {
    /** Evaluates an instant query now; throws with Prometheus's message when the expression is invalid. */
    query: async (expr: string) =>
      (await api<{ result: QueryResult[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    labelValues: (label: string, match: string) =>
      api<string[]>(`/api/v1/label/${label}/values?match[]=${encodeURIComponent(match)}`),
    rules: () => api<{ groups: { rules: { name: string; health: string; lastError?: string }[] }[] }>('/api/v1/rules'),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;
