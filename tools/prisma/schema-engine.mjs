#!/usr/bin/env node
// Offline stand-in for Prisma's native `schema-engine` binary, used through
// PRISMA_SCHEMA_ENGINE_BINARY. The Prisma CLI runs it in one of three ways:
//   schema-engine --version
//   schema-engine --datasource <json> cli <can-connect-to-database|create-database|drop-database>
//   schema-engine --datamodels <file>... --datasource <json>   (JSON-RPC 2.0, one message per line)
// The native binary cannot be downloaded here, so this program answers the same way and forwards
// the migration work to the WASM build of the engine (@prisma/schema-engine-wasm), which reaches
// PostgreSQL through @prisma/adapter-pg. README.md lists the adapter snags worked around below.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as wasmGlue from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';

// Rust panics inside the WASM engine report their message here before the call traps. A trap in
// an engine callback escapes every promise: report it as the native engine reports a panic (an
// ERROR log line on stderr, exit code 101).
let panicMessage;
globalThis.PRISMA_WASM_PANIC_REGISTRY = {
  set_message: (message) => {
    panicMessage = message;
  },
};
process.on('uncaughtException', (error) => {
  logLine('ERROR', { message: panicMessage ?? error.stack ?? String(error) });
  process.exit(101);
});

// Instantiate the engine from bytes, as the package's entry point would do by importing the .wasm
// file as an ES module; that import prints an ExperimentalWarning to stderr, where the CLI expects
// only JSON log lines.
const wasmPath = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm')),
  'schema_engine_bg.wasm',
);
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { './schema_engine_bg.js': wasmGlue });
wasmGlue.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start();
const { SchemaEngine } = wasmGlue;

// PostgreSQL's internal one-byte "char" type (OID 18, e.g. pg_constraint.contype) is rejected by
// adapter-pg's column type mapping, yet the engine's introspection queries read it. Its text form
// is the character itself, so such columns are described as text (OID 25) before the adapter sees
// them. _handleRowDescription is the one place every query form's column metadata passes through.
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;
if (typeof pg.Client.prototype._handleRowDescription !== 'function') {
  throw new Error('schema-engine shim: pg.Client has no _handleRowDescription any more; update CharAsTextClient');
}
class CharAsTextClient extends pg.Client {
  _handleRowDescription(msg) {
    for (const field of msg.fields) {
      if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
    super._handleRowDescription(msg);
  }
}

const quoteIdent = (name) => `"${name.replaceAll('"', '""')}"`;

function databaseName(url) {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (!name) throw new Error('The datasource URL names no database');
  return name;
}

function withDatabase(url, name) {
  const next = new URL(url);
  next.pathname = `/${encodeURIComponent(name)}`;
  return next.toString();
}

// CREATE/DROP DATABASE run from the server's `postgres` maintenance database, as the native
// engine does.
async function onMaintenanceDb(url, sql) {
  const client = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const createDatabase = (url) => onMaintenanceDb(url, `CREATE DATABASE ${quoteIdent(databaseName(url))}`);
const dropDatabase = (url) =>
  onMaintenanceDb(url, `DROP DATABASE IF EXISTS ${quoteIdent(databaseName(url))} WITH (FORCE)`);

// An adapter-pg connection whose pool uses CharAsTextClient. executeScript is replaced because
// adapter-pg splits scripts on every ';' (breaking functions, DO blocks and string literals) and
// runs the pieces on whichever pool connection is free. A query without parameters goes over the
// simple protocol, so the whole script runs as one multi-statement batch, as with the native engine.
async function connectAdapter(url, afterDispose) {
  const pool = new pg.Pool({ connectionString: url, Client: CharAsTextClient });
  const adapter = await new PrismaPg(pool, { disposeExternalPool: true }).connect();
  adapter.executeScript = async (script) => {
    await adapter.executeRaw({ sql: script, args: [], argTypes: [] });
  };
  if (afterDispose) {
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      await afterDispose();
    };
  }
  return adapter;
}

// The driver adapter factory handed to the WASM engine. Shadow databases are created and dropped
// here rather than by adapter-pg, which drops the database while its own pool is still connected.
function adapterFactory(url) {
  return bindMigrationAwareSqlAdapterFactory({
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => connectAdapter(url),
    connectToShadowDb: async () => {
      const shadowUrl = withDatabase(url, `prisma_migrate_shadow_db_${crypto.randomUUID()}`);
      await createDatabase(shadowUrl);
      return connectAdapter(shadowUrl, () => dropDatabase(shadowUrl));
    },
  });
}

// For `cli` commands the CLI reads the outcome from stderr: it skips the first line, parses the
// rest as JSON log lines and reports the ERROR line's fields.error_code and fields.message.
function logLine(level, fields) {
  process.stderr.write(`${JSON.stringify({ level, fields, target: 'schema_engine::logger' })}\n`);
}

async function runCliCommand(url, command) {
  logLine('INFO', { message: `Starting schema engine CLI: ${command}` });
  try {
    switch (command) {
      case 'can-connect-to-database': {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.end();
        break;
      }
      case 'create-database':
        await createDatabase(url);
        break;
      case 'drop-database':
        await dropDatabase(url);
        break;
      default:
        throw new Error(`Unknown schema engine CLI command: ${command}`);
    }
  } catch (error) {
    // 3D000 is PostgreSQL's invalid_catalog_name; P1003 is what the CLI expects before creating one.
    const missing = error.code === '3D000';
    logLine('ERROR', {
      error_code: missing ? 'P1003' : 'P1001',
      message: missing
        ? `Database \`${databaseName(url)}\` does not exist on the database server at \`${new URL(url).host}\`.`
        : error.message,
    });
    process.exitCode = 1;
  }
}

// evaluateDataLoss and createMigration replay the migrations on a shadow database, but in the WASM
// engine only diagnoseMigrationHistory (opted in to the shadow database) obtains one from the
// adapter factory; the others fail with "shadow DB must be provided through an external factory".
// So run that diagnosis first on the same migrations; its result is not needed.
function withShadowDatabase(call) {
  return async (engine, params) => {
    const { migrationsList, filters } = params;
    await engine.diagnoseMigrationHistory({ migrationsList, filters, optInToShadowDatabase: true });
    return call(engine, params);
  };
}

// JSON-RPC methods forwarded to the WASM engine (same names, except getDatabaseVersion).
// createDatabase and getDatabaseDescription have no WASM counterpart: the CLI creates databases
// through `cli create-database`, and only error reporting uses getDatabaseDescription.
const rpcMethods = {
  applyMigrations: (engine, params) => engine.applyMigrations(params),
  createMigration: withShadowDatabase((engine, params) => engine.createMigration(params)),
  dbExecute: (engine, params) => engine.dbExecute(params),
  debugPanic: (engine) => engine.debugPanic(),
  devDiagnostic: (engine, params) => engine.devDiagnostic(params),
  diagnoseMigrationHistory: (engine, params) => engine.diagnoseMigrationHistory(params),
  diff,
  ensureConnectionValidity: (engine, params) => engine.ensureConnectionValidity(params),
  evaluateDataLoss: withShadowDatabase((engine, params) => engine.evaluateDataLoss(params)),
  getDatabaseVersion: (engine, params) => engine.version(params),
  introspect: (engine, params) => engine.introspect(params),
  introspectSql: (engine, params) => engine.introspectSql(params),
  markMigrationApplied: (engine, params) => engine.markMigrationApplied(params),
  markMigrationRolledBack: (engine, params) => engine.markMigrationRolledBack(params),
  reset: (engine, params) => engine.reset(params),
  schemaPush: (engine, params) => engine.schemaPush(params),
};

// The native engine prints a diff by sending the CLI a `print` request (the CLI writes its content to
// stdout, or to the --output file) and leaves `stdout` empty; the WASM engine returns the text.
// The request is sent before the diff's own response, so the CLI handles it first; its answer is
// ignored like any other response.
let printRequestId = 0;
async function diff(engine, params) {
  const { stdout, ...result } = await engine.diff(params);
  if (stdout) send({ id: `print-${++printRequestId}`, method: 'print', params: { content: stdout } });
  return { ...result, stdout: null };
}

// Turns a WASM engine failure into the JSON-RPC error shape the CLI understands. Errors thrown
// inside the adapter reach the engine only as "External error id#N"; the original is kept in the
// factory's error registry.
function rpcError(error, errorRegistry) {
  let data = { message: error instanceof Error ? error.message : String(error) };
  try {
    const parsed = JSON.parse(data.message);
    if (parsed && typeof parsed === 'object' && typeof parsed.message === 'string') data = parsed;
  } catch {
    // a plain-text message
  }
  const external = /External error id#(\d+)/.exec(data.message);
  const original = external && errorRegistry.consumeError(Number(external[1]))?.error;
  if (original) data = { ...data, message: data.message.replace(external[0], original.message ?? String(original)) };
  if (panicMessage) {
    data = { message: panicMessage };
    panicMessage = undefined;
    return { code: 4466, message: 'The schema engine panicked.', data: { ...data, is_panic: true, error: data } };
  }
  return {
    code: 4466,
    message: 'An error happened. Check the data field for details.',
    data: { ...data, is_panic: false },
  };
}

const send = (message) => process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);

async function serveRpc(datamodelPaths, url) {
  const factory = adapterFactory(url);
  let engine;
  const getEngine = () => {
    if (!url) throw new Error('The schema engine needs a database connection: set DATABASE_URL');
    // `migrate diff` passes no --datamodels; an empty list (unlike none) makes the engine panic.
    const datamodels =
      datamodelPaths.length > 0 ? datamodelPaths.map((file) => [file, readFileSync(file, 'utf8')]) : undefined;
    engine ??= SchemaEngine.new({ datamodels }, (log) => process.stderr.write(`${log}\n`), factory);
    return engine;
  };

  // One request at a time, in arrival order, like the native engine.
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const { id, method, params } = JSON.parse(line);
    if (method === undefined) continue; // the CLI's answer to a `print` request
    const handler = rpcMethods[method];
    if (!handler) {
      send({ id, error: { code: -32601, message: `Method not supported by the offline schema engine: ${method}` } });
      continue;
    }
    try {
      send({ id, result: (await handler(await getEngine(), params)) ?? {} });
    } catch (error) {
      send({ id, error: rpcError(error, factory.errorRegistry) });
    }
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    version: { type: 'boolean', short: 'V' },
    datamodels: { type: 'string', multiple: true, default: [] },
    datasource: { type: 'string', default: '{}' },
    'enabled-preview-features': { type: 'string' },
    'extension-types': { type: 'string' },
  },
});
const datasource = JSON.parse(values.datasource);
if (values.version) {
  process.stdout.write(`schema-engine-cli ${wasmGlue.version()} (wasm)\n`);
} else if (datasource.shadowDatabaseUrl) {
  throw new Error('schema-engine shim: shadowDatabaseUrl is not supported; the shim creates its own shadow database');
} else if (positionals[0] === 'cli') {
  await runCliCommand(datasource.url, positionals[1]);
} else {
  await serveRpc(values.datamodels, datasource.url);
}
