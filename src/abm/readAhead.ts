/**
 * Runs a chain of fetches ahead of its consumer.
 *
 * `produce` is called again only after its previous call resolved (a page's
 * request needs the cursor the page before it returned), and it answers
 * `undefined` when the chain has ended. Up to `depth` items are produced or
 * being produced beyond the one the consumer holds, so the chain goes at the
 * network's pace while the consumer works at its own, instead of each page
 * waiting for the previous one to be processed. A failure in `produce` stops
 * the chain and is thrown to the consumer when it reaches that item, after
 * every item produced before it.
 *
 * `produce` is told, through `awaited`, whether the consumer is waiting for
 * the very item it makes, at any moment: a walk uses it to send its next
 * request early only when the consumer is idle for want of the page (see
 * `paginate` in client.ts).
 */
export async function* readAhead<T>(
  produce: (awaited: () => boolean) => Promise<T | undefined>,
  depth: number,
): AsyncGenerator<T> {
  const queue: Array<Promise<T | undefined>> = [];
  let produced = 0;
  let awaitedIndex = -1;
  let tail: Promise<T | undefined> | undefined;
  let ended = false;
  const fill = (): void => {
    while (!ended && queue.length < depth) {
      const previous = tail;
      const index = produced++;
      const awaited = () => awaitedIndex === index;
      tail = previous
        ? previous.then((item) => (item === undefined ? undefined : produce(awaited)))
        : produce(awaited);
      // Thrown when the consumer reaches it; this keeps one it never reaches from crashing the process.
      tail.catch(() => undefined);
      queue.push(tail);
    }
  };

  fill();
  let taken = 0;
  while (queue.length > 0) {
    awaitedIndex = taken++;
    const item = await (queue.shift() as Promise<T | undefined>);
    awaitedIndex = -1;
    if (item === undefined) {
      ended = true;
      return;
    }
    fill();
    // Let a request started just now leave before the consumer's work. Node writes it from a
    // nextTick, and a consumer whose loop awaits settled promises runs as one long stretch of
    // microtasks, which would hold the request back until the whole page is processed.
    await new Promise<void>((resolve) => setImmediate(resolve));
    yield item;
  }
}
