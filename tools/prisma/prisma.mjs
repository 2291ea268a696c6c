#!/usr/bin/env node
import { spawn } from 'node:child_process';
// Runs the Prisma CLI for one service, offline:
//   node tools/prisma/prisma.mjs <service> <prisma args...>
// e.g. node tools/prisma/prisma.mjs user migrate deploy
// It selects prisma/<service>/schema.prisma and its migrations (via prisma.config.mjs), requires
// DATABASE_URL for commands that touch the database, and points PRISMA_SCHEMA_ENGINE_BINARY at the
// WASM-backed schema-engine.mjs unless the caller already set it (e.g. to a native engine).
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';

const here = import.meta.dirname;
const repoRoot = path.resolve(here, '../..');

function fail(message) {
  process.stderr.write(`tools/prisma: ${message}\n`);
  process.exit(1);
}

const [service, ...prismaArgs] = process.argv.slice(2);
if (!service || prismaArgs.length === 0) fail('usage: node tools/prisma/prisma.mjs <service> <prisma args...>');
if (!/^[a-z][a-z0-9-]*$/.test(service) || !existsSync(path.join(repoRoot, 'prisma', service, 'schema.prisma'))) {
  fail(`unknown service "${service}": prisma/${service}/schema.prisma does not exist`);
}

// Every other command starts the schema engine, and the WASM engine always connects on start
// (even for `migrate diff` between schema files).
const offlineCommands = new Set(['generate', 'validate', 'format', 'version', '--version', '-v', '--help', '-h']);
if (!offlineCommands.has(prismaArgs[0]) && !process.env.DATABASE_URL) {
  fail(
    `DATABASE_URL is not set; it must hold the ${service} database URL, e.g. postgresql://postgres@127.0.0.1:5432/ordermesh_${service}`,
  );
}

const engine = path.resolve(process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? path.join(here, 'schema-engine.mjs'));
try {
  accessSync(engine, constants.X_OK);
} catch {
  fail(`schema engine ${engine} is missing or not executable (chmod +x it)`);
}

const prismaCli = createRequire(path.join(repoRoot, 'package.json')).resolve('prisma/build/index.js');
const child = spawn(process.execPath, [prismaCli, ...prismaArgs, '--config', path.join(here, 'prisma.config.mjs')], {
  cwd: repoRoot,
  // stderr is filtered (below); stdin and stdout stay the terminal's, so prompts still work.
  stdio: ['inherit', 'inherit', 'pipe'],
  env: {
    ...process.env,
    ORDERMESH_PRISMA_SERVICE: service,
    PRISMA_SCHEMA_ENGINE_BINARY: engine,
    // The engine shim starts with `#!/usr/bin/env node`: make that the Node running this script.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
  },
});

// Every command announces which config and schema it loaded; this script chose both, so that is
// noise in `npm start` and the test output. Everything else Prisma writes to stderr passes through.
const ANNOUNCEMENT = /^(Loaded Prisma config from |Prisma schema loaded from )/;
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
let droppedLast = false;
createInterface({ input: child.stderr, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
  const plain = line.replace(ANSI, '').trim();
  const drop = ANNOUNCEMENT.test(plain) || (droppedLast && plain === '');
  droppedLast = drop && plain !== '';
  if (!drop) process.stderr.write(`${line}\n`);
});
child.on('error', (error) => fail(error.message));
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
