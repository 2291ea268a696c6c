import { status } from '@grpc/grpc-js';
import {
  bindService,
  type CallContext,
  callUnary,
  type DownstreamCall,
  fields,
  parseRequest,
  passThrough,
  translateDownstreamError,
  type UnaryMethod,
} from '@ordermesh/grpc';
import type { TokenVerifier } from '@ordermesh/identity';
import { type Order, type OrderServiceClient, OrderServiceService } from '@ordermesh/proto/order';
import { type PaymentServiceClient, PaymentServiceService } from '@ordermesh/proto/payment';
import { UserServiceService } from '@ordermesh/proto/user';
import type { Logger } from '@ordermesh/runtime';
import { z } from 'zod';
import { type LoginThrottle, type SourceAddressFrom, sourceAddress } from './login-throttle.js';
import { placeOrderMessage } from './order-messages.js';
import type { Users } from './users.js';

const displayName = fields.text(100);
const register = z.object({
  idempotencyKey: fields.idempotencyKey,
  email: z.email('must be an email address').max(254, 'must be at most 254 characters'),
  password: z.string().min(10, 'must be at least 10 characters').max(256, 'must be at most 256 characters'),
  displayName,
});
const login = z.object({
  email: fields.text(254),
  password: z.string().min(1, 'is required').max(256, 'must be at most 256 characters'),
});
const withKey = z.object({ idempotencyKey: fields.idempotencyKey });
const orderId = z.object({ orderId: fields.id });
const page = z.object({ pageSize: fields.pageSize, pageToken: fields.pageToken });

export interface Downstream {
  orders: OrderServiceClient;
  payments: PaymentServiceClient;
  timeoutMs: number;
}

/** What a failed downstream call is about; mutating calls say what may have happened (kit translateDownstreamError). */
const ORDERS = { subject: 'orders' };
const PAYMENT_METHODS = { subject: 'payment methods' };
const PLACE_ORDER = { ...ORDERS, mayHave: 'the order may have been placed' };
const CANCEL_ORDER = { ...ORDERS, mayHave: 'the order may have been cancelled' };
const ADD_PAYMENT_METHOD = { ...PAYMENT_METHODS, mayHave: 'the payment method may have been added' };

/**
 * gRPC edge of UserService, the public API. Every call but Register, Login
 * and ListProducts needs a valid access token; the user id is always taken
 * from the token, never from the request, so nobody can act for another user.
 */
export interface LoginGuard {
  throttle: LoginThrottle;
  clientAddressFrom: SourceAddressFrom;
}

export function userService(
  users: Users,
  tokens: TokenVerifier,
  downstream: Downstream,
  loginGuard: LoginGuard,
  log: Logger,
) {
  const { orders, payments } = downstream;
  // Answers passed on unchanged stay as the downstream service encoded them: decoding a page of orders only
  // to encode it again cost UserService a third of its CPU per ListMyOrders. passThrough checks the messages match.
  const passedOn = {
    addPaymentMethod: passThrough(
      payments,
      PaymentServiceService.addPaymentMethod,
      UserServiceService.addPaymentMethod,
    ),
    listPaymentMethods: passThrough(
      payments,
      PaymentServiceService.listPaymentMethods,
      UserServiceService.listPaymentMethods,
    ),
    listProducts: passThrough(orders, OrderServiceService.listProducts, UserServiceService.listProducts),
    listOrders: passThrough(orders, OrderServiceService.listOrders, UserServiceService.listMyOrders),
  };
  const call = <Req, Res>(method: UnaryMethod<Req, Res>, request: Req, context: CallContext, about: DownstreamCall) =>
    callUnary(method, request, { timeoutMs: downstream.timeoutMs, within: context.deadline }).catch((error) => {
      throw translateDownstreamError(error, { ...about, within: context.deadline });
    });
  const order = (response: { order: Order | undefined }): Order => {
    if (!response.order) throw new Error('OrderService answered without an order');
    return response.order;
  };

  return bindService(
    UserServiceService,
    {
      async register(request) {
        return { user: await users.register(parseRequest(register, request)) };
      },
      async login(request, context) {
        const { email, password } = parseRequest(login, request);
        const source = sourceAddress(context.peer, context.metadata, loginGuard.clientAddressFrom);
        return loginGuard.throttle.guard({ email, source }, () => users.login(email, password));
      },
      async getProfile(_request, context) {
        return { user: await users.profile(await tokens.authenticate(context.metadata)) };
      },
      async updateProfile(request, context) {
        const userId = await tokens.authenticate(context.metadata);
        const change = parseRequest(z.object({ displayName }), request);
        return { user: await users.updateProfile(userId, change.displayName) };
      },
      async addPaymentMethod(request, context) {
        const userId = await tokens.authenticate(context.metadata);
        parseRequest(withKey, request);
        return call(passedOn.addPaymentMethod, { ...request, userId }, context, ADD_PAYMENT_METHOD);
      },
      async listPaymentMethods(_request, context) {
        const userId = await tokens.authenticate(context.metadata);
        return call(passedOn.listPaymentMethods, { userId }, context, PAYMENT_METHODS);
      },
      async listProducts(_request, context) {
        return call(passedOn.listProducts, {}, context, ORDERS);
      },
      async placeOrder(request, context) {
        const userId = await tokens.authenticate(context.metadata);
        parseRequest(withKey, request);
        const placed = order(await call(orders.createOrder.bind(orders), { ...request, userId }, context, PLACE_ORDER));
        return { order: placed, message: placeOrderMessage(placed) };
      },
      async listMyOrders(request, context) {
        const userId = await tokens.authenticate(context.metadata);
        const { pageSize, pageToken } = parseRequest(page, request);
        return call(passedOn.listOrders, { userId, pageSize, pageToken }, context, ORDERS);
      },
      async getMyOrder(request, context) {
        const userId = await tokens.authenticate(context.metadata);
        const { orderId: id } = parseRequest(orderId, request);
        const found = order(await call(orders.getOrder.bind(orders), { orderId: id, userId }, context, ORDERS));
        // The order is what was asked for; its payment is extra, so an unreachable PaymentService degrades the answer, not fails it.
        try {
          const { payment } = await callUnary(
            payments.getPayment.bind(payments),
            { orderId: id, userId },
            { timeoutMs: downstream.timeoutMs, within: context.deadline },
          );
          return { order: found, payment, paymentUnavailable: false };
        } catch (error) {
          if ((error as { code?: number }).code === status.NOT_FOUND)
            return { order: found, payment: undefined, paymentUnavailable: false };
          log.warn({ err: error, orderId: id }, 'payment status unavailable for order view');
          return { order: found, payment: undefined, paymentUnavailable: true };
        }
      },
      async cancelMyOrder(request, context) {
        const userId = await tokens.authenticate(context.metadata);
        const { orderId: id, idempotencyKey } = parseRequest(orderId.extend(withKey.shape), request);
        const cancel = orders.cancelOrder.bind(orders);
        return { order: order(await call(cancel, { orderId: id, userId, idempotencyKey }, context, CANCEL_ORDER)) };
      },
    },
    log,
  );
}
