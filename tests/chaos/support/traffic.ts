/**
 * Steady user traffic for the chaos suite: PlaceOrder and GetMyOrder in turn,
 * started on a fixed schedule by the benchmark's open-loop generator (so a
 * stalled platform shows up as latency, not as fewer calls), through the
 * public UserService as a gRPC client sees it.
 */
import { randomUUID } from 'node:crypto';
import { type ServiceError, status } from '@grpc/grpc-js';
import { OrderStatus } from '@ordermesh/proto/order';
import type { UserServiceClient } from '@ordermesh/proto/user';
import { call } from '@ordermesh/testing';
import { DROPPED, openLoop, type StepResult } from '../../../tools/bench/load.ts';

export interface Buyer {
  userId: string;
  email: string;
  token: string;
  cardId: string;
}

/** An order UserService accepted (answered OK to PlaceOrder). */
export interface AcceptedOrder {
  orderId: string;
  idempotencyKey: string;
  userId: string;
  /** The status in PlaceOrder's answer. */
  answeredStatus: OrderStatus;
}

export type Method = 'PlaceOrder' | 'GetMyOrder';

/** One finished call: when it was started (ms since the run began), what it was and how it ended. */
export interface Outcome {
  startedAtMs: number;
  method: Method;
  code: status;
  latencyMs: number;
}

export interface TrafficResult {
  step: StepResult;
  outcomes: Outcome[];
  /** Orders accepted during this run. */
  accepted: AcceptedOrder[];
  /** Of those, how many were answered PENDING_PAYMENT (the fallback). */
  pendingAnswers: number;
  /** Calls scheduled: those answered, plus any the generator could not send in time (DROPPED). */
  requests: number;
}

const MUG = [{ sku: 'MUG-001', quantity: 1 }];

export class Traffic {
  /** Every order accepted since the suite began, for the invariant checks. */
  readonly accepted: AcceptedOrder[] = [];
  private turn = 0;

  constructor(
    private readonly users: UserServiceClient,
    private readonly buyers: readonly Buyer[],
  ) {
    if (buyers.length === 0) throw new Error('Traffic needs at least one buyer');
  }

  /**
   * Runs `rate` calls a second for `durationMs` while `during` (the fault) runs
   * alongside; resolves when both are done and every call has answered.
   */
  async run(rate: number, durationMs: number, during: () => Promise<void> = async () => {}): Promise<TrafficResult> {
    const startedAt = performance.now();
    const outcomes: Outcome[] = [];
    const accepted: AcceptedOrder[] = [];
    const one = async (): Promise<number> => {
      const turn = this.turn++;
      // Each buyer in turn places an order, then reads back their latest accepted one.
      const buyer = this.buyers[Math.floor(turn / 2) % this.buyers.length] as Buyer;
      const callStartedAt = performance.now();
      const previous = this.accepted.filter((o) => o.userId === buyer.userId).at(-1);
      const method: Method = turn % 2 === 1 && previous ? 'GetMyOrder' : 'PlaceOrder';
      let code: status = status.OK;
      try {
        if (method === 'GetMyOrder' && previous) {
          await call(this.users.getMyOrder.bind(this.users), { orderId: previous.orderId }, buyer.token);
        } else {
          const idempotencyKey = randomUUID();
          const { order } = await call(
            this.users.placeOrder.bind(this.users),
            { idempotencyKey, lines: MUG, paymentMethodId: buyer.cardId },
            buyer.token,
          );
          if (!order) throw new Error('PlaceOrder answered without an order');
          const placed = { orderId: order.id, idempotencyKey, userId: buyer.userId, answeredStatus: order.status };
          accepted.push(placed);
          this.accepted.push(placed);
        }
      } catch (error) {
        code = (error as Partial<ServiceError>).code ?? status.UNKNOWN;
      }
      const now = performance.now();
      outcomes.push({ startedAtMs: callStartedAt - startedAt, method, code, latencyMs: now - callStartedAt });
      return code;
    };
    const [step] = await Promise.all([openLoop(one, rate, durationMs), during()]);
    return {
      step,
      outcomes,
      accepted,
      pendingAnswers: accepted.filter((o) => o.answeredStatus === OrderStatus.ORDER_STATUS_PENDING_PAYMENT).length,
      requests: outcomes.length + (step.errors.get(DROPPED) ?? 0),
    };
  }
}

/** Failures by status name, e.g. "UNAVAILABLE=3 DEADLINE_EXCEEDED=1", or "0". */
export function failureText(result: TrafficResult): string {
  const errors = [...result.step.errors].sort(([a], [b]) => a - b);
  if (errors.length === 0) return '0';
  return errors.map(([code, count]) => `${code === DROPPED ? 'DROPPED' : status[code]}=${count}`).join(' ');
}

export const failureCount = (result: TrafficResult) => [...result.step.errors.values()].reduce((a, b) => a + b, 0);

/** p99 of the calls' latency from their scheduled start, in ms. */
export const p99Ms = (result: TrafficResult) => result.step.histogram.getValueAtPercentile(99) / 1000;

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
