export interface BatcherOptions<Item> {
  /** Batches running at once; an item that finds them all busy waits for the next one. */
  concurrency: number;
  /** Items per batch at most. */
  maxSize: number;
  /** Items with the same key never share a batch: the later one waits for a batch of its own. */
  keyOf: (item: Item) => string;
}

interface Queued<Item, Result> {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs items in batches, without waiting to fill one: an item starts a batch
 * of its own when one of `concurrency` is free, and the items that come while
 * all are busy go together in the next. So batches stay at one item while
 * the work keeps up and grow only when it falls behind, which is when their
 * saving is needed.
 */
export class Batcher<Item, Result> {
  private readonly queue: Queued<Item, Result>[] = [];
  private running = 0;

  constructor(
    /** One outcome per item, in the items' order; a throw fails every item of the batch. */
    private readonly runBatch: (items: Item[]) => Promise<PromiseSettledResult<Result>[]>,
    private readonly options: BatcherOptions<Item>,
  ) {}

  submit(item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.startBatches();
    });
  }

  private startBatches(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      this.running += 1;
      void this.run(this.takeBatch()).finally(() => {
        this.running -= 1;
        this.startBatches();
      });
    }
  }

  /** The oldest queued items, up to maxSize, with no key twice; the rest stay queued in order. */
  private takeBatch(): Queued<Item, Result>[] {
    const batch: Queued<Item, Result>[] = [];
    const keys = new Set<string>();
    for (let index = 0; index < this.queue.length && batch.length < this.options.maxSize; ) {
      const queued = this.queue[index] as Queued<Item, Result>;
      const key = this.options.keyOf(queued.item);
      if (keys.has(key)) {
        index += 1;
        continue;
      }
      keys.add(key);
      batch.push(queued);
      this.queue.splice(index, 1);
    }
    return batch;
  }

  private async run(batch: Queued<Item, Result>[]): Promise<void> {
    try {
      const outcomes = await this.runBatch(batch.map((queued) => queued.item));
      batch.forEach((queued, index) => {
        const outcome = outcomes[index];
        if (outcome?.status === 'fulfilled') queued.resolve(outcome.value);
        else queued.reject(outcome ? outcome.reason : new Error('the batch gave no outcome for this item'));
      });
    } catch (error) {
      for (const queued of batch) queued.reject(error);
    }
  }
}
