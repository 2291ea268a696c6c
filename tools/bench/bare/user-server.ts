/** Bare UserService: GetProfile from Redis, PlaceOrder and ListMyOrders passed on to bare OrderService. */
import { credentials, Metadata, type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { type CreateOrderResponse, type ListOrdersResponse, OrderServiceClient } from '@ordermesh/proto/order';
import {
  type GetProfileResponse,
  type ListMyOrdersRequest,
  type ListMyOrdersResponse,
  type PlaceOrderRequest,
  type PlaceOrderResponse,
  User,
  UserServiceService,
} from '@ordermesh/proto/user';
import { Redis } from 'ioredis';
import { failure, jwtVerifier, listen, newServer, required } from './common.ts';

const authenticate = jwtVerifier(required('JWT_PUBLIC_KEY_FILE'));
const redis = new Redis(required('REDIS_URL'));
const orders = new OrderServiceClient(required('ORDER_ADDR'), credentials.createInsecure());
const profileKey = (userId: string) => `bench:bare:user:v1:${userId}`;
const unauthenticated = failure(status.UNAUTHENTICATED, 'invalid token');

function userOf(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  return authenticate(call.metadata.get('authorization')[0]?.toString());
}

const deadlineOf = (call: ServerUnaryCall<unknown, unknown>) => call.getDeadline();
const notImplemented = (_call: unknown, callback: sendUnaryData<never>) =>
  callback(failure(status.UNIMPLEMENTED, 'not in the baseline'));

const server = newServer();
server.addService(UserServiceService, {
  register: notImplemented,
  login: notImplemented,
  updateProfile: notImplemented,
  addPaymentMethod: notImplemented,
  listPaymentMethods: notImplemented,
  listProducts: notImplemented,
  getMyOrder: notImplemented,
  cancelMyOrder: notImplemented,
  getProfile(call: ServerUnaryCall<unknown, GetProfileResponse>, callback: sendUnaryData<GetProfileResponse>) {
    const userId = userOf(call);
    if (!userId) return callback(unauthenticated);
    redis.getBuffer(profileKey(userId)).then(
      (bytes) => (bytes ? callback(null, { user: User.decode(bytes) }) : callback(failure(status.NOT_FOUND, 'user'))),
      (error: Error) => callback(failure(status.INTERNAL, error.message)),
    );
  },
  placeOrder(
    call: ServerUnaryCall<PlaceOrderRequest, PlaceOrderResponse>,
    callback: sendUnaryData<PlaceOrderResponse>,
  ) {
    const userId = userOf(call);
    if (!userId) return callback(unauthenticated);
    orders.createOrder(
      { ...call.request, userId },
      new Metadata(),
      { deadline: deadlineOf(call) },
      (error, response: CreateOrderResponse) =>
        error ? callback(error) : callback(null, { order: response.order, message: 'Order placed and paid.' }),
    );
  },
  listMyOrders(
    call: ServerUnaryCall<ListMyOrdersRequest, ListMyOrdersResponse>,
    callback: sendUnaryData<ListMyOrdersResponse>,
  ) {
    const userId = userOf(call);
    if (!userId) return callback(unauthenticated);
    const { pageSize, pageToken } = call.request;
    orders.listOrders(
      { userId, pageSize, pageToken },
      new Metadata(),
      { deadline: deadlineOf(call) },
      (error, response: ListOrdersResponse) => (error ? callback(error) : callback(null, response)),
    );
  },
});
await listen(server, required('LISTEN'));
