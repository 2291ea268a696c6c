import { describe, expect, it } from '@jest/globals';
import { Batcher } from './batcher.js';

/** A batcher whose batches wait until the test lets them end, recording what each held. */
function heldBatcher(concurrency: number, maxSize = 10) {
  const batches: string[][] = [];
  const releases: (() => void)[] = [];
  const batcher = new Batcher<string, string>(
    async (items) => {
      batches.push(items);
      await new Promise<void>((resolve) => releases.push(resolve));
      return items.map((item) =>
        item.startsWith('bad')
          ? { status: 'rejected', reason: new Error(`${item} failed`) }
          : { status: 'fulfilled', value: `${item} done` },
      );
    },
    { concurrency, maxSize, keyOf: (item) => item.split(':')[0] as string },
  );
  /** Lets the oldest running batch end, and waits for what that sets going. */
  const releaseOldest = async () => {
    releases.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { batcher, batches, releaseOldest };
}

describe('Batcher', () => {
  it('starts an item at once while a batch is free, and batches what comes while all are busy', async () => {
    const { batcher, batches, releaseOldest } = heldBatcher(2);

    const results = ['a', 'b', 'c', 'd', 'e'].map((item) => batcher.submit(item));
    expect(batches).toEqual([['a'], ['b']]);

    await releaseOldest();
    expect(batches).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    await releaseOldest();
    await releaseOldest();
    expect(await Promise.all(results)).toEqual(['a done', 'b done', 'c done', 'd done', 'e done']);
  });

  it('never puts two items of one key in a batch: the later waits, in order, for the next', async () => {
    const { batcher, batches, releaseOldest } = heldBatcher(1);

    const results = ['a', 'x:1', 'y', 'x:2', 'z'].map((item) => batcher.submit(item));
    await releaseOldest();
    expect(batches[1]).toEqual(['x:1', 'y', 'z']);
    await releaseOldest();
    expect(batches[2]).toEqual(['x:2']);
    await releaseOldest();
    expect(await Promise.all(results)).toHaveLength(5);
  });

  it('takes at most maxSize items per batch', async () => {
    const { batcher, batches, releaseOldest } = heldBatcher(1, 2);

    const results = ['a', 'b', 'c', 'd'].map((item) => batcher.submit(item));
    for (let i = 0; i < 3; i += 1) await releaseOldest();
    expect(batches).toEqual([['a'], ['b', 'c'], ['d']]);
    await Promise.all(results);
  });

  it('settles each item with its own outcome', async () => {
    const { batcher, releaseOldest } = heldBatcher(1);

    const settled = Promise.allSettled(['a', 'b', 'bad'].map((item) => batcher.submit(item)));
    await releaseOldest();
    await releaseOldest();
    expect(await settled).toEqual([
      { status: 'fulfilled', value: 'a done' },
      { status: 'fulfilled', value: 'b done' },
      { status: 'rejected', reason: new Error('bad failed') },
    ]);
  });

  it('fails every item of a batch that throws, and goes on with the next', async () => {
    const batcher = new Batcher<string, string>(
      async (items) => {
        if (items.includes('boom')) throw new Error('connection lost');
        return items.map((item) => ({ status: 'fulfilled', value: item }));
      },
      { concurrency: 1, maxSize: 10, keyOf: (item) => item },
    );

    // 'a' runs alone; 'b' and 'boom' come while it runs and share the next batch.
    const settled = await Promise.allSettled(['a', 'b', 'boom'].map((item) => batcher.submit(item)));
    expect(settled).toEqual([
      { status: 'fulfilled', value: 'a' },
      { status: 'rejected', reason: new Error('connection lost') },
      { status: 'rejected', reason: new Error('connection lost') },
    ]);
    await expect(batcher.submit('c')).resolves.toBe('c');
  });
});
