// The gRPC contracts as compiled by buf: every service, its methods, their idempotency_level and
// whether the request carries an idempotency key.
import { existsSync, readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';

export type Idempotency = 'IDEMPOTENT' | 'NO_SIDE_EFFECTS' | 'UNKNOWN';

export interface RpcMethod {
  /** As in the proto and the gRPC path: "CreateOrder". */
  name: string;
  /** As on the generated client: "createOrder". */
  clientName: string;
  idempotency: Idempotency;
  /** The request message has a field named idempotency_key. */
  idempotencyKey: boolean;
}

export interface Contract {
  /** Short name, the second package segment: "order" for ordermesh.order.v1. */
  service: string;
  /** "ordermesh.order.v1.OrderService", the gRPC path prefix. */
  fullName: string;
  methods: RpcMethod[];
}

export const IDEMPOTENCY_KEY_FIELD = 'idempotency_key';

/** A mesh retry of this method cannot apply its effect twice. */
export const retrySafe = (m: RpcMethod): boolean => m.idempotency !== 'UNKNOWN' || m.idempotencyKey;
export const whyRetrySafe = (m: RpcMethod): string =>
  m.idempotency !== 'UNKNOWN' ? m.idempotency : m.idempotencyKey ? IDEMPOTENCY_KEY_FIELD : 'neither';

const levels: Record<number, Idempotency> = {
  [MethodOptions_IdempotencyLevel.IDEMPOTENT]: 'IDEMPOTENT',
  [MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS]: 'NO_SIDE_EFFECTS',
};

/** Reads proto/gen/descriptor-set.binpb (written by `npm run build`); keyed by short service name. */
export function loadContracts(descriptorSetPath: string): Map<string, Contract> {
  if (!existsSync(descriptorSetPath)) {
    throw new Error(`${descriptorSetPath} is missing: run \`npm run build\` (it compiles the protos) first`);
  }
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descriptorSetPath)));
  const contracts = new Map<string, Contract>();
  for (const file of registry.files) {
    for (const svc of file.services) {
      const service = svc.typeName.split('.')[1];
      if (!svc.typeName.startsWith('ordermesh.') || !service) continue;
      contracts.set(service, {
        service,
        fullName: svc.typeName,
        methods: svc.methods.map((m) => ({
          name: m.name,
          clientName: m.localName,
          idempotency: levels[m.idempotency] ?? 'UNKNOWN',
          idempotencyKey: m.input.fields.some((f) => f.name === IDEMPOTENCY_KEY_FIELD),
        })),
      });
    }
  }
  return contracts;
}
