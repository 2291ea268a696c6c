/**
 * Bare PaymentService: Charge checks the card on file, inserts the payment
 * and its outbox event in one transaction and relays the event.
 */
import { randomUUID } from 'node:crypto';
import { type ServerUnaryCall, type sendUnaryData, status } from '@grpc/grpc-js';
import { PaymentSucceeded } from '@ordermesh/proto/events';
import {
  type ChargeRequest,
  type ChargeResponse,
  PaymentServiceService,
  PaymentStatus,
} from '@ordermesh/proto/payment';
import { connect } from 'amqplib';
import pg from 'pg';
import { failure, INSERT_OUTBOX_EVENT, listen, newServer, relayEvent, required } from './common.ts';

const db = new pg.Pool({ connectionString: required('DATABASE_URL'), max: 10 });
const exchange = required('EXCHANGE');
const channel = await (await connect(required('AMQP_URL'))).createConfirmChannel();
await channel.assertExchange(exchange, 'topic', { durable: true });

interface PaymentRow {
  id: string;
  created_at: Date;
  updated_at: Date;
}

async function charge(request: ChargeRequest): Promise<ChargeResponse> {
  const method = await db.query('SELECT id FROM payment_methods WHERE id = $1 AND user_id = $2', [
    request.paymentMethodId,
    request.userId,
  ]);
  if (method.rowCount !== 1) throw failure(status.NOT_FOUND, 'payment method not found');
  const amount = request.amount ?? { amountMinor: 0, currency: 'EUR' };
  const id = randomUUID();
  const event = {
    eventId: randomUUID(),
    routingKey: 'payment.succeeded',
    payload: Buffer.from(
      PaymentSucceeded.encode({
        paymentId: id,
        orderId: request.orderId,
        userId: request.userId,
        amount,
        occurredAt: new Date(),
      }).finish(),
    ),
  };
  const client = await db.connect();
  let payment: PaymentRow;
  try {
    await client.query('BEGIN');
    const inserted = await client.query<PaymentRow>(
      `INSERT INTO payments (id, order_id, user_id, payment_method_id, amount_minor, currency, status, charge_key, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'SUCCEEDED', $7, now()) RETURNING id, created_at, updated_at`,
      [
        id,
        request.orderId,
        request.userId,
        request.paymentMethodId,
        amount.amountMinor,
        amount.currency,
        request.idempotencyKey,
      ],
    );
    await client.query(INSERT_OUTBOX_EVENT, [
      event.eventId,
      event.routingKey,
      'ordermesh.events.v1.PaymentSucceeded',
      event.payload,
    ]);
    await client.query('COMMIT');
    payment = inserted.rows[0] as PaymentRow;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
  relayEvent(db, channel, exchange, event);
  return {
    payment: {
      id: payment.id,
      orderId: request.orderId,
      userId: request.userId,
      paymentMethodId: request.paymentMethodId,
      amount,
      status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
      declineReason: '',
      createdAt: payment.created_at,
      updatedAt: payment.updated_at,
    },
  };
}

const notImplemented = (_call: unknown, callback: sendUnaryData<never>) =>
  callback(failure(status.UNIMPLEMENTED, 'not in the baseline'));

const server = newServer();
server.addService(PaymentServiceService, {
  charge(call: ServerUnaryCall<ChargeRequest, ChargeResponse>, callback: sendUnaryData<ChargeResponse>) {
    charge(call.request).then(
      (response) => callback(null, response),
      (error: { code?: number; details?: string; message?: string }) =>
        callback(failure(error.code ?? status.INTERNAL, error.details ?? error.message ?? 'failed')),
    );
  },
  addPaymentMethod: notImplemented,
  listPaymentMethods: notImplemented,
  getPayment: notImplemented,
  refund: notImplemented,
});
await listen(server, required('LISTEN'));
