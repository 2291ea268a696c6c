/**
 * The benchmark's gRPC client: raw grpc-js calls on pre-encoded request bytes,
 * responses left undecoded, so the generator spends as little CPU as it can
 * and exactly the same on the platform and on the bare baseline.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';

const identity = (bytes: Buffer) => bytes;

export class RawCaller {
  private readonly channels: Client[];
  private next = 0;

  /** Several HTTP/2 connections, as several ingress pods would open; one would serialize on one socket. */
  constructor(address: string, connections = 4) {
    this.channels = Array.from(
      { length: connections },
      () => new Client(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
    );
  }

  /** Resolves to the call's status code (0 = OK). */
  call(path: string, request: Buffer, metadata: Metadata, timeoutMs = 10_000): Promise<number> {
    const channel = this.channels[this.next++ % this.channels.length] as Client;
    return new Promise((resolve) => {
      channel.makeUnaryRequest(
        path,
        identity,
        identity,
        request,
        metadata,
        { deadline: Date.now() + timeoutMs },
        (error: ServiceError | null) => resolve(error ? error.code : 0),
      );
    });
  }

  close(): void {
    for (const channel of this.channels) channel.close();
  }
}

export function bearer(token: string): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}
