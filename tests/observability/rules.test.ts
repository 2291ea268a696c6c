import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import { alertRules, requireBinary, ruleGroups } from './support/prometheus.ts';

/** The PrometheusRule's groups as a plain rules file, next to the promtool unit tests. */
const dir = mkdtempSync(join(tmpdir(), 'ordermesh-rules-'));
writeFileSync(join(dir, 'rules.yaml'), stringify(ruleGroups()));
copyFileSync(join(import.meta.dirname, 'alerts.promtool.yaml'), join(dir, 'alerts.promtool.yaml'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const promtool = (...args: string[]) =>
  execFileSync(requireBinary('promtool'), args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    expect(promtool('check', 'rules', 'rules.yaml')).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests', () => {
    expect(promtool('test', 'rules', 'alerts.promtool.yaml')).toMatch(/SUCCESS/);
  });

  it('each have a unit test, a severity, a summary, a description and a runbook section', () => {
    const tests = parse(readFileSync(join(dir, 'alerts.promtool.yaml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firingInTests = new Set(
      tests.tests
        .flatMap((t) => t.alert_rule_test ?? [])
        .filter((a) => a.exp_alerts.length > 0)
        .map((a) => a.alertname),
    );
    const runbooks = readFileSync(join(import.meta.dirname, '../../docs/observability.md'), 'utf8');
    for (const rule of alertRules()) {
      expect({ alert: rule.alert, tested: firingInTests.has(rule.alert) }).toEqual({ alert: rule.alert, tested: true });
      expect(rule.labels?.severity).toMatch(/^(critical|warning)$/);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
      expect(rule.annotations?.runbook_url).toBe(`docs/observability.md#${rule.alert.toLowerCase()}`);
      expect(runbooks).toContain(`### ${rule.alert}\n`);
    }
  });
});
