import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bindService, type RunningServer, startGrpcServer } from '@ordermesh/grpc';
import { OrderServiceService } from '@ordermesh/proto/order';
import { AppError, createLogger } from '@ordermesh/runtime';

/**
 * Found by tests/security/fuzz.test.ts: bytes that are not a valid message
 * made grpc-js answer INTERNAL ("Error deserializing request"). They are the
 * caller's mistake, so bindService answers INVALID_ARGUMENT, after the caller
 * check when the service has one.
 */
const log = createLogger('grpc-server-decoding-test', 'silent');
const notCalled = async (): Promise<never> => {
  throw new Error('the handler must not run for a request that does not decode');
};
const handlers = {
  createOrder: notCalled,
  getOrder: notCalled,
  listOrders: notCalled,
  cancelOrder: notCalled,
  listProducts: async () => ({ products: [] }),
};

let server: RunningServer;
let client: Client;

beforeAll(async () => {
  const open = bindService(OrderServiceService, handlers, log);
  server = await startGrpcServer({ host: '127.0.0.1', port: 27450, services: [open], log });
  client = new Client(`127.0.0.1:${server.port}`, credentials.createInsecure());
});

afterAll(async () => {
  client.close();
  await server.shutdown(1000);
});

function send(path: string, bytes: number[]): Promise<ServiceError | null> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      (body: Buffer) => body,
      (body: Buffer) => body,
      Buffer.from(bytes),
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (error) => resolve(error),
    ),
  );
}

describe('a request that does not decode', () => {
  it.each([
    ['a truncated varint', [0x08, 0xff, 0xff]],
    ['a length past the end', [0x0a, 0x7f, 0x41]],
    ['wire type 7', [0x0f, 0x00]],
  ])('is INVALID_ARGUMENT, not INTERNAL, for %s', async (_what, bytes) => {
    const error = await send('/ordermesh.order.v1.OrderService/GetOrder', bytes);
    expect(error?.code).toBe(status.INVALID_ARGUMENT);
    expect(error?.details).toMatch(/^request: is not a valid protobuf message/);
  });

  it('still reaches the handler when it does decode', async () => {
    expect(await send('/ordermesh.order.v1.OrderService/ListProducts', [])).toBeNull();
  });

  it('is refused by the caller check first', async () => {
    const guarded = bindService(OrderServiceService, handlers, log, {
      authorize: async () => {
        throw new AppError(status.UNAUTHENTICATED, 'no caller');
      },
    });
    const other = await startGrpcServer({ host: '127.0.0.1', port: 27451, services: [guarded], log });
    const guardedClient = new Client(`127.0.0.1:${other.port}`, credentials.createInsecure());
    try {
      const error = await new Promise<ServiceError | null>((resolve) =>
        guardedClient.makeUnaryRequest(
          '/ordermesh.order.v1.OrderService/GetOrder',
          (body: Buffer) => body,
          (body: Buffer) => body,
          Buffer.from([0x08, 0xff, 0xff]),
          new Metadata(),
          { deadline: Date.now() + 10_000 },
          (e) => resolve(e),
        ),
      );
      expect(error?.code).toBe(status.UNAUTHENTICATED);
    } finally {
      guardedClient.close();
      await other.shutdown(1000);
    }
  });
});
