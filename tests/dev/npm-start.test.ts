import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ROOT, SERVICE_NAMES } from '@ordermesh/dev/platform';
import { dropDatabases, eventually } from '@ordermesh/testing';

/**
 * `npm start` as a process manager runs it: the signal goes to the npm
 * process alone, not to its process group, and everything npm started must
 * be gone afterwards, the ports free for the next start.
 */
const BASE_PORT = 23050;
const JWKS_PORT = 23081;
const SMTP_PORT = 23025;
const suffix = `_devloop_${randomBytes(3).toString('hex')}`;
const stateDir = mkdtempSync(join(tmpdir(), 'ordermesh-npm-start-'));
const PORTS = [
  ...[1, 2, 3, 4].flatMap((offset) => [BASE_PORT + offset, BASE_PORT + 10 + offset]),
  JWKS_PORT,
  SMTP_PORT,
];

afterAll(async () => {
  await dropDatabases(SERVICE_NAMES.map((name) => `ordermesh_${name}${suffix}`));
  rmSync(stateDir, { recursive: true, force: true });
}, 30_000);

/** Parent of every live process, from /proc; zombies count as gone (nobody may be reaping in a container). */
function processTable(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') parents.set(Number(entry), Number(ppid));
    } catch {
      // exited while we looked
    }
  }
  return parents;
}

function descendants(root: number): number[] {
  const parents = processTable();
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

const commandLine = (pid: number) => {
  try {
    return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
  } catch {
    return `${pid}: (gone)`;
  }
};

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

function startPlatform(): { npm: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = '';
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ORDERMESH_BASE_PORT: String(BASE_PORT),
      ORDERMESH_JWKS_PORT: String(JWKS_PORT),
      ORDERMESH_SMTP_PORT: String(SMTP_PORT),
      ORDERMESH_DATABASE_SUFFIX: suffix,
      ORDERMESH_STATE_DIR: stateDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [npm.stdout, npm.stderr]) stream?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
  return { npm, output: () => output, exited };
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops every process it started when ${signal} goes to the npm process alone`, async () => {
      const { npm, output, exited } = startPlatform();
      let started: number[] = [];
      try {
        await Promise.race([
          eventually('the platform to be running', () => output().includes('ordermesh is running'), 120_000),
          exited.then((code) =>
            Promise.reject(new Error(`npm start exited (${code}) before it was running:\n${output()}`)),
          ),
        ]);
        started = descendants(npm.pid ?? -1);
        // start.ts and the four services at least (plus npm's shell where it stays).
        expect(started.length).toBeGreaterThanOrEqual(5);
        for (const port of PORTS) expect({ port, free: await portFree(port) }).toEqual({ port, free: false });

        process.kill(npm.pid ?? -1, signal);
        const timeout = new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000).unref());
        expect(await Promise.race([exited, timeout])).toBe(0);
        const alive = () => {
          const live = processTable();
          return started.filter((pid) => live.has(pid));
        };
        await eventually('every child to exit', () => alive().length === 0, 15_000).catch(() => undefined);
        expect(alive().map(commandLine)).toEqual([]);
        for (const port of PORTS) expect({ port, free: await portFree(port) }).toEqual({ port, free: true });
        // The Prisma CLI's announcements of its config and schema are not in the output.
        expect(output()).not.toMatch(/Loaded Prisma config|Prisma schema loaded/);
      } finally {
        for (const pid of [npm.pid ?? -1, ...started]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone, as it should be
          }
        }
      }
    }, 180_000);
  }
});
