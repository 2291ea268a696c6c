import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeEvent, isRoutingKey } from '@ordermesh/messaging';
import {
  connectDatabaseUnderTest,
  createMigratedDatabase,
  type DatabaseUnderTest,
  failure,
  query,
} from '@ordermesh/testing';
import { PrismaClient } from '../src/generated/prisma/client.js';
import { type ChargeCommand, Payments } from '../src/payments.js';
import { SimulatedProvider } from '../src/provider.js';
import { PostgresPaymentStore } from '../src/store.js';

const GOOD_CARD = '4242424242424242';
const DECLINED_CARD = '4000000000000002';
const LIMIT_MINOR = 100_000;

/** The simulated provider, counting the money movements it was asked for. */
class CountingProvider extends SimulatedProvider {
  readonly charges: string[] = [];
  readonly refunds: string[] = [];

  override async charge(request: Parameters<SimulatedProvider['charge']>[0] & { idempotencyKey?: string }) {
    this.charges.push(request.idempotencyKey ?? '');
    return super.charge(request);
  }

  override async refund() {
    this.refunds.push('refund');
    return super.refund();
  }
}

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let db: InstanceType<typeof PrismaClient>;
let connections: DatabaseUnderTest<InstanceType<typeof PrismaClient>>;
let provider: CountingProvider;
let payments: Payments;
let notifications = 0;

beforeAll(async () => {
  database = await createMigratedDatabase('payment');
  connections = await connectDatabaseUnderTest(PrismaClient, database.url, { max: 12 });
  db = connections.db;
  provider = new CountingProvider({ latencyMs: 5, declinedCards: new Set([DECLINED_CARD]), limitMinor: LIMIT_MINOR });
  payments = new Payments(new PostgresPaymentStore(connections.pool), provider, () => {
    notifications += 1;
  });
}, 30_000);

afterAll(async () => {
  await connections?.close();
  await database?.drop();
}, 30_000);

async function addCard(userId = randomUUID(), cardNumber = GOOD_CARD) {
  return payments.addMethod({
    userId,
    idempotencyKey: randomUUID(),
    cardNumber,
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 3,
    holderName: 'Ada Lovelace',
  });
}

function chargeOf(method: { id: string; userId: string }, orderId = randomUUID(), amountMinor = 2599): ChargeCommand {
  return {
    idempotencyKey: `charge:${orderId}`,
    orderId,
    userId: method.userId,
    paymentMethodId: method.id,
    amountMinor,
    currency: 'EUR',
  };
}

/** The outbox events written for one order, decoded. */
async function eventsOf(orderId: string) {
  const rows = await db.outboxEvent.findMany({ orderBy: { id: 'asc' } });
  return rows
    .map((row) => {
      if (!isRoutingKey(row.routingKey)) throw new Error(`unknown routing key ${row.routingKey}`);
      return { routingKey: row.routingKey, payload: decodeEvent(row.routingKey, row.payload) as { orderId: string } };
    })
    .filter((event) => event.payload.orderId === orderId);
}

describe('Payments.charge', () => {
  it('charges once when ten identical charges race: one row, one event, the same answer for all', async () => {
    const method = await addCard();
    const command = chargeOf(method);
    const chargesBefore = provider.charges.length;

    const answers = await Promise.all(Array.from({ length: 10 }, () => payments.charge(command)));

    expect(answers[0]?.status).toBe('SUCCEEDED');
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(await db.payment.count({ where: { orderId: command.orderId } })).toBe(1);
    const events = await eventsOf(command.orderId);
    expect(events.map((event) => event.routingKey)).toEqual(['payment.succeeded']);
    expect(events[0]?.payload).toMatchObject({
      paymentId: answers[0]?.id,
      orderId: command.orderId,
      userId: method.userId,
      amount: { amountMinor: 2599, currency: 'EUR' },
    });
    // Every provider call that did happen carried the same provider key, so the money moved once.
    const keys = new Set(provider.charges.slice(chargesBefore));
    expect([...keys]).toEqual([`charge:${answers[0]?.id}`]);
  });

  it('charges once when ten charges of one order race with different idempotency keys', async () => {
    const method = await addCard();
    const base = chargeOf(method);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => payments.charge({ ...base, idempotencyKey: `key-${i}-${randomUUID()}` })),
    );

    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(answers[0]?.status).toBe('SUCCEEDED');
    expect(await db.payment.count({ where: { orderId: base.orderId } })).toBe(1);
    expect((await eventsOf(base.orderId)).map((event) => event.routingKey)).toEqual(['payment.succeeded']);
  });

  it('answers a repeated charge with the stored payment, without charging again', async () => {
    const method = await addCard();
    const command = chargeOf(method);
    const first = await payments.charge(command);
    const chargesBefore = provider.charges.length;
    const notified = notifications;

    expect(await payments.charge(command)).toEqual(first);
    expect(provider.charges.length).toBe(chargesBefore);
    expect(notifications).toBe(notified);
  });

  it('refuses a charge whose amount or currency differs from the payment the order already has', async () => {
    const method = await addCard();
    const command = chargeOf(method, randomUUID(), 1000);
    const first = await payments.charge(command);

    const otherAmount = await failure(payments.charge({ ...command, amountMinor: 2000 }));
    expect(otherAmount).toMatchObject({ code: status.FAILED_PRECONDITION });
    expect(otherAmount.message).toContain('another amount');
    expect(await failure(payments.charge({ ...command, currency: 'USD' }))).toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
    expect(await db.payment.findUniqueOrThrow({ where: { orderId: command.orderId } })).toEqual(first);
  });

  it('declines a declined card with payment.failed and its reason', async () => {
    const method = await addCard(randomUUID(), DECLINED_CARD);
    const command = chargeOf(method);

    const payment = await payments.charge(command);

    expect(payment).toMatchObject({ status: 'DECLINED', declineReason: 'card_declined' });
    const events = await eventsOf(command.orderId);
    expect(events.map((event) => event.routingKey)).toEqual(['payment.failed']);
    expect(events[0]?.payload).toMatchObject({ reason: 'card_declined', paymentId: payment.id });
    // A repeat does not turn it into a success, nor write another event.
    expect(await payments.charge(command)).toEqual(payment);
    expect(await eventsOf(command.orderId)).toHaveLength(1);
  });

  it('declines an amount over the limit for insufficient funds', async () => {
    const method = await addCard();
    const payment = await payments.charge(chargeOf(method, randomUUID(), LIMIT_MINOR + 1));
    expect(payment).toMatchObject({ status: 'DECLINED', declineReason: 'insufficient_funds' });
  });

  it("answers NOT_FOUND for another user's payment method, and takes no money", async () => {
    const method = await addCard();
    const intruder = randomUUID();
    const command = { ...chargeOf(method), userId: intruder };
    const chargesBefore = provider.charges.length;

    expect(await failure(payments.charge(command))).toMatchObject({ code: status.NOT_FOUND });
    expect(provider.charges.length).toBe(chargesBefore);
    expect(await db.payment.count({ where: { orderId: command.orderId } })).toBe(0);
  });

  it('answers ALREADY_EXISTS, taking no money, for a charge key already used for another order', async () => {
    const method = await addCard();
    const first = chargeOf(method);
    await payments.charge(first);
    const chargesBefore = provider.charges.length;
    const reused = { ...chargeOf(method), idempotencyKey: first.idempotencyKey };

    const error = await failure(payments.charge(reused));
    expect(error).toMatchObject({ code: status.ALREADY_EXISTS });
    expect(error.message).toContain('idempotency_key');
    expect(provider.charges.length).toBe(chargesBefore);
    expect(await db.payment.count({ where: { orderId: reused.orderId } })).toBe(0);
  });

  it("answers NOT_FOUND when the order's payment belongs to another user", async () => {
    const owner = await addCard();
    const command = chargeOf(owner);
    await payments.charge(command);
    const other = await addCard();

    const error = await failure(payments.charge({ ...command, userId: other.userId, paymentMethodId: other.id }));
    expect(error).toMatchObject({ code: status.NOT_FOUND });
  });
});

describe('Payments.refund', () => {
  it('voids an order with no payment, so a later charge takes no money', async () => {
    const method = await addCard();
    const command = chargeOf(method);
    const chargesBefore = provider.charges.length;

    const voided = await payments.refund({
      idempotencyKey: `cancel:${command.orderId}`,
      orderId: command.orderId,
      userId: method.userId,
    });
    expect(voided).toMatchObject({ status: 'VOIDED', orderId: command.orderId, paymentMethodId: null });

    const late = await payments.charge(command);
    expect(late.status).toBe('VOIDED');
    expect(late.id).toBe(voided.id);
    expect(provider.charges.length).toBe(chargesBefore);
    expect(await eventsOf(command.orderId)).toEqual([]);
    expect(await db.payment.count({ where: { orderId: command.orderId } })).toBe(1);
  });

  it('refunds a succeeded payment once, with one payment.refunded event, and repeats give the same answer', async () => {
    const method = await addCard();
    const command = chargeOf(method);
    const charged = await payments.charge(command);
    expect(charged.status).toBe('SUCCEEDED');
    const refundsBefore = provider.refunds.length;

    const cancel = { idempotencyKey: `cancel:${command.orderId}`, orderId: command.orderId, userId: method.userId };
    const refunded = await payments.refund(cancel);
    expect(refunded).toMatchObject({ id: charged.id, status: 'REFUNDED', refundKey: cancel.idempotencyKey });

    expect(await payments.refund(cancel)).toEqual(refunded);
    expect(await payments.refund({ ...cancel, idempotencyKey: randomUUID() })).toEqual(refunded);
    expect(provider.refunds.length - refundsBefore).toBe(1);
    const events = await eventsOf(command.orderId);
    expect(events.map((event) => event.routingKey)).toEqual(['payment.succeeded', 'payment.refunded']);
    expect(events[1]?.payload).toMatchObject({ paymentId: charged.id, amount: { amountMinor: 2599, currency: 'EUR' } });
    // And a charge after the refund does not charge again.
    expect((await payments.charge(command)).status).toBe('REFUNDED');
  });

  it('leaves a declined payment as it is', async () => {
    const method = await addCard(randomUUID(), DECLINED_CARD);
    const command = chargeOf(method);
    const declined = await payments.charge(command);
    const refundsBefore = provider.refunds.length;

    const answer = await payments.refund({
      idempotencyKey: randomUUID(),
      orderId: command.orderId,
      userId: method.userId,
    });
    expect(answer).toEqual(declined);
    expect(provider.refunds.length).toBe(refundsBefore);
  });

  // Found by tests/security/fuzz.test.ts: the provider refunded, then the update hit the unique refund key: INTERNAL.
  it('answers ALREADY_EXISTS, before any money moves, for a key already used to refund another order', async () => {
    const method = await addCard();
    const first = chargeOf(method);
    const second = chargeOf(method);
    await payments.charge(first);
    await payments.charge(second);
    const idempotencyKey = randomUUID();
    await payments.refund({ idempotencyKey, orderId: first.orderId, userId: method.userId });
    const refundsBefore = provider.refunds.length;

    const error = await failure(payments.refund({ idempotencyKey, orderId: second.orderId, userId: method.userId }));
    expect(error).toMatchObject({ code: status.ALREADY_EXISTS });
    expect(provider.refunds.length).toBe(refundsBefore);
    expect((await db.payment.findUniqueOrThrow({ where: { orderId: second.orderId } })).status).toBe('SUCCEEDED');
  });

  it("answers NOT_FOUND for another user's payment", async () => {
    const method = await addCard();
    const command = chargeOf(method);
    await payments.charge(command);
    const error = await failure(
      payments.refund({ idempotencyKey: randomUUID(), orderId: command.orderId, userId: randomUUID() }),
    );
    expect(error).toMatchObject({ code: status.NOT_FOUND });
    expect((await db.payment.findUniqueOrThrow({ where: { orderId: command.orderId } })).status).toBe('SUCCEEDED');
  });
});

describe('Payments.addMethod', () => {
  it('stores a token and the last four digits, never the card number', async () => {
    const userId = randomUUID();
    const card = '5555555555554444';
    const method = await addCard(userId, card);

    expect(method).toMatchObject({ userId, brand: 'mastercard', last4: '4444', holderName: 'Ada Lovelace' });
    expect(method.providerToken).toMatch(/^sim_tok_/);
    const rows = await query<Record<string, unknown>>(
      database.url,
      'SELECT * FROM payment_methods WHERE user_id = $1',
      [userId],
    );
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows[0]);
    expect(stored).toContain('4444');
    expect(stored).toContain('sim_tok_');
    // Neither the number nor any long run of its digits is anywhere in the row.
    expect(stored).not.toContain(card);
    expect(stored).not.toContain(card.slice(0, 12));
    expect(stored).not.toContain(card.slice(4, 12));
    // Nor anywhere else in the database.
    const dump = await query<{ dump: string }>(
      database.url,
      `SELECT string_agg(t::text, '|') AS dump FROM (
         SELECT row_to_json(p)::text AS t FROM payments p
         UNION ALL SELECT row_to_json(o)::text FROM outbox_events o) all_rows`,
    );
    expect(dump[0]?.dump ?? '').not.toContain(card);
  });

  it('returns the same method for the same key, also when the calls race', async () => {
    const userId = randomUUID();
    const input = {
      userId,
      idempotencyKey: randomUUID(),
      cardNumber: GOOD_CARD,
      expMonth: 1,
      expYear: new Date().getUTCFullYear() + 1,
      holderName: 'Grace Hopper',
    };
    const raced = await Promise.all(Array.from({ length: 6 }, () => payments.addMethod(input)));
    for (const method of raced) expect(method).toEqual(raced[0]);
    expect(await payments.addMethod(input)).toEqual(raced[0]);
    expect(await db.paymentMethod.count({ where: { userId } })).toBe(1);

    // Another key is another method.
    const second = await payments.addMethod({ ...input, idempotencyKey: randomUUID() });
    expect(second.id).not.toBe(raced[0]?.id);
    expect((await payments.listMethods(userId)).map((method) => method.id).sort()).toEqual(
      [raced[0]?.id, second.id].sort(),
    );
  });

  // Found by tests/security/fuzz.test.ts: a reused key returned the first card, even for a number failing the Luhn check.
  it('answers ALREADY_EXISTS when the key was used for a different card', async () => {
    const input = {
      userId: randomUUID(),
      idempotencyKey: randomUUID(),
      cardNumber: GOOD_CARD,
      expMonth: 6,
      expYear: new Date().getUTCFullYear() + 2,
      holderName: 'Ada Lovelace',
    };
    const first = await payments.addMethod(input);
    for (const change of [
      { cardNumber: '4242424242424241' },
      { cardNumber: '5555555555554444' },
      { expMonth: 7 },
      { holderName: 'Someone Else' },
    ]) {
      expect(await failure(payments.addMethod({ ...input, ...change }))).toMatchObject({
        code: status.ALREADY_EXISTS,
        message: 'idempotency_key was already used for a different card',
      });
    }
    expect(await payments.addMethod(input)).toEqual(first);
  });

  it('rejects a number that fails the Luhn check and an expired card, naming the field', async () => {
    const input = {
      userId: randomUUID(),
      idempotencyKey: randomUUID(),
      cardNumber: '4242424242424241',
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 1,
      holderName: 'X',
    };
    expect(await failure(payments.addMethod(input))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: 'card_number: is not a valid card number',
    });
    const lastYear = new Date().getUTCFullYear() - 1;
    expect(await failure(payments.addMethod({ ...input, cardNumber: GOOD_CARD, expYear: lastYear }))).toMatchObject({
      code: status.INVALID_ARGUMENT,
      message: 'exp_year: the card has expired',
    });
    expect(await db.paymentMethod.count({ where: { userId: input.userId } })).toBe(0);
  });
});
