import { createRequire } from 'node:module';
import { credentials, loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

interface ReflectionStream {
  write(request: object): void;
  end(): void;
  on(event: 'data', listener: (response: { listServicesResponse?: { service: { name: string }[] } }) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}

/** Asks a server's grpc.reflection.v1 service which services it has, as grpcurl `list` does. */
export async function listServicesByReflection(address: string): Promise<string[]> {
  const proto = createRequire(import.meta.url).resolve(
    '@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto',
  );
  const definition = loadPackageDefinition(loadSync(proto, { keepCase: false })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: ServiceClientConstructor } } };
  };
  const client = new definition.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure());
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const stream = (client as unknown as { serverReflectionInfo(): ReflectionStream }).serverReflectionInfo();
      stream.on('data', (response) => {
        resolve((response.listServicesResponse?.service ?? []).map((s) => s.name).sort());
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ listServices: '' });
    });
  } finally {
    client.close();
  }
}
