import { readAhead } from './readAhead';

/** A producer of `count` numbered items that records how it was called. */
function producer(count: number, options: { failAt?: number } = {}) {
  let made = 0;
  let running = 0;
  const log = { calls: 0, mostAtOnce: 0 };
  const produce = async (): Promise<number | undefined> => {
    log.calls += 1;
    running += 1;
    log.mostAtOnce = Math.max(log.mostAtOnce, running);
    await new Promise((resolve) => setImmediate(resolve));
    running -= 1;
    if (made === options.failAt) throw new Error(`item ${made} failed`);
    return made < count ? made++ : undefined;
  };
  return { produce, log };
}

/** Lets every pending fetch run to its end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('readAhead', () => {
  it('yields every item once, in order, calling the producer one call at a time', async () => {
    const { produce, log } = producer(7);
    const items: number[] = [];
    for await (const item of readAhead(produce, 2)) items.push(item);
    expect(items).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(log.mostAtOnce).toBe(1);
    expect(log.calls).toBe(8);
  });

  it('runs up to `depth` items ahead of a consumer that is still busy, and no further', async () => {
    const { produce, log } = producer(10);
    const iterator = readAhead(produce, 2)[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(0);
    await settle();
    // Item 0 is held by the consumer; items 1 and 2 are ready, item 3 is not asked for.
    expect(log.calls).toBe(3);
    expect((await iterator.next()).value).toBe(1);
    await settle();
    expect(log.calls).toBe(4);
    await iterator.return(undefined);
  });

  it('hands over the items made before a failure, then the failure, and stops producing', async () => {
    const { produce, log } = producer(10, { failAt: 3 });
    const items: number[] = [];
    await expect(
      (async () => {
        for await (const item of readAhead(produce, 2)) items.push(item);
      })(),
    ).rejects.toThrow('item 3 failed');
    expect(items).toEqual([0, 1, 2]);
    await settle();
    expect(log.calls).toBe(4);
  });

  it('stops producing when the consumer leaves early', async () => {
    const { produce, log } = producer(100);
    for await (const item of readAhead(produce, 2)) {
      if (item === 4) break;
    }
    await settle();
    expect(log.calls).toBeLessThanOrEqual(7);
  });

  it('tells the producer whether the consumer is waiting for the item it makes', async () => {
    const gates: Array<() => void> = [];
    const answers: boolean[] = [];
    let made = 0;
    const produce = async (awaited: () => boolean): Promise<number | undefined> => {
      const index = made++;
      await new Promise<void>((resolve) => gates.push(resolve));
      answers[index] = awaited();
      return index < 3 ? index : undefined;
    };
    const items = readAhead(produce, 1)[Symbol.asyncIterator]();
    const first = items.next();
    await settle();
    gates[0](); // item 0 comes while the consumer waits for it
    expect((await first).value).toBe(0);
    await settle();
    gates[1](); // item 1 comes while the consumer still holds item 0
    await settle();
    expect(answers).toEqual([true, false]);
    expect((await items.next()).value).toBe(1);
    const third = items.next();
    await settle();
    gates[2](); // item 2 comes while the consumer waits for it again
    expect((await third).value).toBe(2);
    expect(answers).toEqual([true, false, true]);
    await items.return(undefined);
  });

  it('ends at once on an empty chain', async () => {
    const { produce, log } = producer(0);
    const items: number[] = [];
    for await (const item of readAhead(produce, 3)) items.push(item);
    expect(items).toEqual([]);
    expect(log.calls).toBe(1);
  });
});
