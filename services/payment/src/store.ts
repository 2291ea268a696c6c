import type { OutboxRecord } from '@ordermesh/kit';
import type { Database } from './db.js';
import type { Payment, PaymentMethod, PaymentStatus } from './generated/prisma/client.js';

export type { Payment, PaymentMethod, PaymentStatus };

export type NewPaymentMethod = Omit<PaymentMethod, 'id' | 'createdAt'>;
export type NewPayment = Pick<
  Payment,
  'orderId' | 'userId' | 'paymentMethodId' | 'amountMinor' | 'currency' | 'status' | 'chargeKey' | 'refundKey'
>;
export interface PaymentChange {
  status: PaymentStatus;
  declineReason?: string;
  refundKey?: string;
}

/** PaymentService's data access. Inserts throw a unique violation when a concurrent duplicate got there first. */
export interface PaymentStore {
  findMethod(userId: string, id: string): Promise<PaymentMethod | null>;
  findMethodByKey(userId: string, idempotencyKey: string): Promise<PaymentMethod | null>;
  insertMethod(method: NewPaymentMethod): Promise<PaymentMethod>;
  listMethods(userId: string): Promise<PaymentMethod[]>;
  findPaymentByOrder(orderId: string): Promise<Payment | null>;
  insertPayment(payment: NewPayment): Promise<Payment>;
  /**
   * Moves a payment out of status `from` and records its event, in one
   * transaction. Returns the payment as it is afterwards, changed or not (a
   * concurrent caller may have moved it first).
   */
  transition(id: string, from: PaymentStatus, change: PaymentChange, event?: OutboxRecord): Promise<Payment>;
}

export class PrismaPaymentStore implements PaymentStore {
  constructor(private readonly db: Database) {}

  findMethod(userId: string, id: string) {
    return this.db.paymentMethod.findFirst({ where: { id, userId } });
  }

  findMethodByKey(userId: string, idempotencyKey: string) {
    return this.db.paymentMethod.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey } } });
  }

  insertMethod(method: NewPaymentMethod) {
    return this.db.paymentMethod.create({ data: method });
  }

  listMethods(userId: string) {
    return this.db.paymentMethod.findMany({ where: { userId }, orderBy: { createdAt: 'desc' }, take: 100 });
  }

  findPaymentByOrder(orderId: string) {
    return this.db.payment.findUnique({ where: { orderId } });
  }

  insertPayment(payment: NewPayment) {
    return this.db.payment.create({ data: payment });
  }

  transition(id: string, from: PaymentStatus, change: PaymentChange, event?: OutboxRecord) {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.payment.updateMany({ where: { id, status: from }, data: change });
      if (count === 1 && event) await tx.outboxEvent.create({ data: event });
      return tx.payment.findUniqueOrThrow({ where: { id } });
    });
  }
}
