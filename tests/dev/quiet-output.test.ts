import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ROOT } from '@ordermesh/dev/platform';

/** Output a newcomer reads on every run says only what matters: no warnings about our own choices. */
const run = (command: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};
const prisma = (...args: string[]) => [join(ROOT, 'tools/prisma/prisma.mjs'), ...args];

describe('the dev loop output', () => {
  it("does not warn that Jest's VM modules are experimental", () => {
    // Node warns once a test module is loaded through the VM modules API: run one small suite.
    const unit = run('npm', ['run', 'jest', '--', 'services/kit/runtime/src/backoff.test.ts']);
    expect(unit.status).toBe(0);
    expect(unit.stderr).toMatch(/Tests:\s+\d+ passed/);
    expect(unit.stderr).not.toContain('ExperimentalWarning');
  }, 60_000);

  it('drops the Prisma CLI announcing the config and schema tools/prisma chose, and keeps its errors', () => {
    const valid = run(process.execPath, prisma('user', 'validate'));
    expect(valid.status).toBe(0);
    expect(valid.stdout).toMatch(/is valid/);
    expect(valid.stderr).not.toMatch(/Loaded Prisma config|Prisma schema loaded/);

    const missing = run(process.execPath, prisma('user', 'migrate', 'status'), {
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/ordermesh_no_such_database',
    });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/ordermesh_no_such_database` does not exist/);
    expect(missing.stderr).not.toMatch(/Loaded Prisma config|Prisma schema loaded/);
  }, 60_000);
});
