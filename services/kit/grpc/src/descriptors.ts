import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Message } from 'protobufjs';
import descriptor, {
  type IDescriptorProto,
  type IFieldDescriptorProto,
  type IFileDescriptorProto,
} from 'protobufjs/ext/descriptor/index.js';

export type FileDescriptor = Message & IFileDescriptorProto;

let files: FileDescriptor[] | undefined;

/** The files of proto/'s descriptor set as buf wrote them, read once per process. */
export function protoFiles(): FileDescriptor[] {
  if (!files) {
    const require = createRequire(import.meta.url);
    const bytes = readFileSync(require.resolve('@ordermesh/proto/descriptor-set'));
    // protobufjs types a decoded message loosely; a FileDescriptorSet's one field is `repeated FileDescriptorProto file`.
    files = (descriptor.FileDescriptorSet.decode(bytes) as Message & { file: FileDescriptor[] }).file;
  }
  return files;
}

/** Every message of the set by its full name with a leading dot, as field type names give it. */
function messagesByName(files: IFileDescriptorProto[]): Map<string, IDescriptorProto> {
  const byName = new Map<string, IDescriptorProto>();
  const add = (scope: string, message: IDescriptorProto) => {
    const name = `${scope}.${message.name}`;
    byName.set(name, message);
    for (const nested of message.nestedType ?? []) add(name, nested);
  };
  for (const file of files) for (const message of file.messageType ?? []) add(`.${file.package}`, message);
  return byName;
}

/** The full name of the message a method answers with; the method by its gRPC path, "/pkg.Service/Method". */
function outputTypeOf(files: IFileDescriptorProto[], path: string): string {
  const [, serviceName, methodName] = path.split('/');
  for (const file of files) {
    for (const service of file.service ?? []) {
      if (`${file.package}.${service.name}` !== serviceName) continue;
      const method = service.method?.find((m) => m.name === methodName);
      if (method?.outputType) return method.outputType;
    }
  }
  throw new Error(`${path} is not a method of the descriptor set`);
}

const [labels, types] = ['Label', 'Type'].map((name) => descriptor.FieldDescriptorProto.lookupEnum(name).valuesById);

/** A field's wire shape in words, e.g. "repeated message" or "optional string in a oneof". */
const shape = (field: IFieldDescriptorProto) => {
  const words = [labels?.[field.label ?? 0], types?.[field.type ?? 0]].map((word) =>
    word?.replace(/^(LABEL|TYPE)_/, '').toLowerCase(),
  );
  // A decoded protobufjs message has its defaults on the prototype: oneof_index 0 unless it was sent.
  return `${words.join(' ')}${Object.hasOwn(field, 'oneofIndex') ? ' in a oneof' : ''}`;
};

/**
 * How the answers of two methods differ on the wire: fields present in one
 * only, or with another label, type, presence or nested type (nested message
 * types with other names are compared in turn). Empty when the bytes of one
 * decode as the other to the same values. Names do not count: they are not
 * sent.
 */
export function responseWireDifferences(
  pathA: string,
  pathB: string,
  files: IFileDescriptorProto[] = protoFiles(),
): string[] {
  const messages = messagesByName(files);
  const differences: string[] = [];
  const compared = new Set<string>();
  const compare = (nameA: string, nameB: string) => {
    if (nameA === nameB || compared.has(`${nameA} ${nameB}`)) return;
    compared.add(`${nameA} ${nameB}`);
    const fieldsOf = (name: string) => new Map((messages.get(name)?.field ?? []).map((f) => [f.number, f]));
    const [a, b] = [fieldsOf(nameA), fieldsOf(nameB)];
    for (const number of new Set([...a.keys(), ...b.keys()])) {
      const [fieldA, fieldB] = [a.get(number), b.get(number)];
      const where = `${nameA.slice(1)} field ${number} (${fieldA?.name ?? fieldB?.name})`;
      if (!fieldA || !fieldB) differences.push(`${where} is only in ${fieldA ? nameA.slice(1) : nameB.slice(1)}`);
      else if (shape(fieldA) !== shape(fieldB)) differences.push(`${where} is ${shape(fieldA)}, not ${shape(fieldB)}`);
      else if (fieldA.typeName !== fieldB.typeName) {
        if (messages.has(fieldA.typeName ?? '') && messages.has(fieldB.typeName ?? ''))
          compare(fieldA.typeName as string, fieldB.typeName as string);
        else differences.push(`${where} is a ${fieldA.typeName?.slice(1)}, not a ${fieldB.typeName?.slice(1)}`);
      }
    }
  };
  compare(outputTypeOf(files, pathA), outputTypeOf(files, pathB));
  return differences;
}
