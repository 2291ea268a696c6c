/**
 * A client of grpc.reflection.v1, the service every ordermesh server serves
 * (as grpcurl uses it): which services a server has, and the descriptors of
 * the files that define them.
 */
import { createRequire } from 'node:module';
import {
  type ClientDuplexStream,
  credentials,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

interface ReflectionRequest {
  listServices?: string;
  fileContainingSymbol?: string;
  fileByFilename?: string;
}
interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}
type ReflectionStream = ClientDuplexStream<ReflectionRequest, ReflectionResponse>;

const REFLECTION_PROTO = createRequire(import.meta.url).resolve(
  '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
);

/** One reflection stream to one server; `close` when done. */
export class Reflection {
  private readonly client: InstanceType<ServiceClientConstructor>;

  constructor(address: string) {
    const definition = loadPackageDefinition(loadSync(REFLECTION_PROTO, { keepCase: false })) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
    };
    this.client = new definition.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  }

  /** The fully qualified names of the services the server has, sorted. */
  async listServices(): Promise<string[]> {
    const response = await this.ask({ listServices: '' });
    return (response.listServicesResponse?.service ?? []).map((s) => s.name).sort();
  }

  /** The serialized FileDescriptorProtos of the file defining `symbol` and of everything it imports, by file name. */
  async filesFor(symbol: string, deadlineMs: number): Promise<Buffer[]> {
    const response = await this.ask({ fileContainingSymbol: symbol }, deadlineMs);
    return response.fileDescriptorResponse?.fileDescriptorProto ?? [];
  }

  close(): void {
    this.client.close();
  }

  private ask(request: ReflectionRequest, deadlineMs = 10_000): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const open = this.client.serverReflectionInfo as (options: { deadline: Date }) => ReflectionStream;
      const stream = open.call(this.client, { deadline: new Date(Date.now() + deadlineMs) });
      stream.on('data', (response) => {
        stream.end();
        if (response.errorResponse) reject(new Error(response.errorResponse.errorMessage));
        else resolve(response);
      });
      stream.on('error', reject);
      stream.write(request);
    });
  }
}

/** Asks a server's grpc.reflection.v1 service which services it has, as grpcurl `list` does. */
export async function listServicesByReflection(address: string): Promise<string[]> {
  const reflection = new Reflection(address);
  try {
    return await reflection.listServices();
  } finally {
    reflection.close();
  }
}
