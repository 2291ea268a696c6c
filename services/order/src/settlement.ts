import { type Logger, sleep } from '@ordermesh/runtime';
import type { Orders } from './orders.js';

/**
 * Completes the payment of orders left PENDING_PAYMENT while PaymentService
 * was unavailable. Charges reuse the order's idempotency key, so a charge that
 * did go through before the timeout is found, not repeated. Safe to run in
 * every instance: orders are claimed with FOR UPDATE SKIP LOCKED.
 */
export class SettlementWorker {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly orders: Orders,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      try {
        const settled = await this.orders.settleDue();
        if (settled > 0) this.log.info({ settled }, 'settled pending orders');
      } catch (error) {
        this.log.warn({ err: error }, 'settlement pass failed');
      }
      await sleep(this.intervalMs, this.stopping.signal);
    }
  }
}
