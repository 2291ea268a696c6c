/**
 * `npm run grpc -- [options] <method> [json]`: calls one unary method of a
 * running service, finding its schema by server reflection, for machines
 * without grpcurl. The request and the answer are protobuf JSON.
 *
 *   npm run grpc -- list
 *   npm run grpc -- Register '{"idempotencyKey":"…","email":"a@example.com","password":"…","displayName":"A"}'
 *   npm run grpc -- --token "$TOKEN" UserService/GetProfile
 *
 * Options: --addr host:port (ORDERMESH_GRPC_ADDR, else 127.0.0.1:50051),
 * --token <access token> (ORDERMESH_TOKEN), --deadline-ms <ms> (10000).
 * Exit status: 0 on OK, 1 when the call failed (its status on stderr), 2 for a usage error.
 */
import { parseArgs } from 'node:util';
import {
  create,
  createFileRegistry,
  type DescMethod,
  type DescService,
  fromBinary,
  fromJson,
  type JsonValue,
  toBinary,
  toJson,
} from '@bufbuild/protobuf';
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { Reflection } from './reflection.ts';

class UsageError extends Error {}

function options() {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const deadlineMs = Number(values['deadline-ms']);
  if (!Number.isInteger(deadlineMs) || deadlineMs <= 0)
    throw new UsageError(
      `--deadline-ms ${JSON.stringify(values['deadline-ms'])}: must be a whole number of milliseconds`,
    );
  const [method, json = '{}', ...extra] = positionals;
  if (!method) throw new UsageError('name a method, e.g. UserService/Login, or "list"');
  if (extra.length > 0) throw new UsageError(`one JSON request at most; unexpected ${JSON.stringify(extra[0])}`);
  const address = values.addr ?? process.env.ORDERMESH_GRPC_ADDR ?? '127.0.0.1:50051';
  return { address, token: values.token ?? process.env.ORDERMESH_TOKEN, deadlineMs, method, json };
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      addr: { type: 'string' },
      token: { type: 'string' },
      'deadline-ms': { type: 'string', default: '10000' },
    },
  });
}

/** "Method", "Service/Method", "pkg.Service/Method" or "pkg.Service.Method" against the services the server has. */
function findService(services: string[], name: string): { service: string; method: string } {
  const slash = name.includes('/') ? name.lastIndexOf('/') : name.lastIndexOf('.');
  const [servicePart, method] = slash < 0 ? ['', name] : [name.slice(0, slash), name.slice(slash + 1)];
  const candidates = services.filter((s) => !servicePart || s === servicePart || s.endsWith(`.${servicePart}`));
  if (candidates.length === 0)
    throw new UsageError(`no service ${JSON.stringify(servicePart)} on this server; it has: ${services.join(', ')}`);
  if (candidates.length > 1 && servicePart)
    throw new UsageError(`${JSON.stringify(servicePart)} matches ${candidates.join(', ')}: name one in full`);
  return { service: candidates.length === 1 ? (candidates[0] as string) : '', method };
}

async function describeServices(reflection: Reflection, names: string[], deadlineMs: number): Promise<DescService[]> {
  const files = new Map<string, FileDescriptorProto>();
  for (const name of names) {
    for (const bytes of await reflection.filesFor(name, deadlineMs)) {
      const file = fromBinary(FileDescriptorProtoSchema, bytes);
      files.set(file.name, file);
    }
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) }));
  return names.map((name) => {
    const service = registry.getService(name);
    if (!service) throw new Error(`the server sent no descriptor for ${name}`);
    return service;
  });
}

/** The files in an order where each comes after the files it imports, as a registry is built. */
function importsFirst(files: Map<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const visit = (name: string, importedBy: string) => {
    const file = files.get(name);
    if (!file) throw new Error(`the server sent no descriptor for ${name}, imported by ${importedBy}`);
    if (ordered.includes(file)) return;
    for (const dependency of file.dependency) visit(dependency, name);
    ordered.push(file);
  };
  for (const name of files.keys()) visit(name, 'the service');
  return ordered;
}

function pickMethod(services: DescService[], service: string, method: string): DescMethod {
  const methods = services
    .filter((s) => !service || s.typeName === service)
    .flatMap((s) => s.methods.filter((m) => m.name === method));
  const all = services.flatMap((s) => s.methods.map((m) => `${s.name}/${m.name}`));
  if (methods.length === 0) throw new UsageError(`no method ${JSON.stringify(method)}; there are: ${all.join(', ')}`);
  if (methods.length > 1) throw new UsageError(`${method} is on several services: name its service too`);
  const [found] = methods as [DescMethod];
  if (found.methodKind !== 'unary')
    throw new UsageError(`${found.parent.name}/${found.name} is ${found.methodKind}; only unary calls are supported`);
  return found;
}

function requestFrom(method: DescMethod, json: string) {
  let value: JsonValue;
  try {
    value = JSON.parse(json) as JsonValue;
  } catch (error) {
    throw new UsageError(`the request is not JSON: ${(error as Error).message}`);
  }
  try {
    return toBinary(method.input, fromJson(method.input, value));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function call(address: string, method: DescMethod, request: Uint8Array, token: string | undefined, deadlineMs: number) {
  const client = new Client(address, credentials.createInsecure());
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      `/${method.parent.typeName}/${method.name}`,
      () => Buffer.from(request),
      (bytes: Buffer) => bytes,
      null,
      metadata,
      { deadline: new Date(Date.now() + deadlineMs) },
      (error, response) => {
        client.close();
        if (error || !response) reject(error);
        else resolve(response);
      },
    );
  });
}

async function main(): Promise<number> {
  const { address, token, deadlineMs, method: name, json } = options();
  const reflection = new Reflection(address);
  try {
    const services = (await reflection.listServices()).filter((s) => !s.startsWith('grpc.'));
    if (name === 'list') {
      for (const service of await describeServices(reflection, services, deadlineMs)) {
        for (const m of service.methods) console.log(`${service.typeName}/${m.name}`);
      }
      return 0;
    }
    const wanted = findService(services, name);
    const described = await describeServices(reflection, wanted.service ? [wanted.service] : services, deadlineMs);
    const method = pickMethod(described, wanted.service, wanted.method);
    const response = await call(address, method, requestFrom(method, json), token, deadlineMs);
    console.log(JSON.stringify(toJson(method.output, fromBinary(method.output, response)), null, 2));
    return 0;
  } finally {
    reflection.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`grpc: ${error.message}`);
    process.exitCode = 2;
  } else if (typeof (error as ServiceError).code === 'number') {
    const { code, details } = error as ServiceError;
    console.error(`ERROR: ${status[code]} (${code}): ${details}`);
    process.exitCode = 1;
  } else {
    console.error(`grpc: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
