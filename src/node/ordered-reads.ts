/**
 * Runs up to `depth` reads at once and yields their results in order. Page-cache reads
 * scale with parallel requests; the consumer still sees one ordered stream.
 *
 * Read i gets slot i % depth and starts only once the consumer has asked for the result
 * after read i - depth, so whatever that earlier read filled in the same slot is no longer
 * in use: a caller may give each slot one reusable buffer.
 *
 * Results read ahead that the consumer never asks for (it stopped early) go to `discard`, so
 * that buffers they hold can go back to their pool.
 */
export async function* orderedReads<Range, Result>(
  ranges: Iterable<Range> | AsyncIterable<Range>,
  depth: number,
  read: (range: Range, slot: number) => Promise<Result>,
  discard?: (result: Result) => void,
): AsyncGenerator<Result> {
  const source = Symbol.asyncIterator in ranges ? ranges[Symbol.asyncIterator]() : ranges[Symbol.iterator]();
  const inFlight: Promise<Result>[] = [];
  let started = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && inFlight.length < depth) {
        const next = await source.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const pending = read(next.value, started++ % depth);
        pending.catch(() => {}); // observed when its turn comes; avoids an unhandled rejection meanwhile
        inFlight.push(pending);
      }
      const first = inFlight.shift();
      if (!first) return;
      yield await first;
    }
  } finally {
    for (const settled of await Promise.allSettled(inFlight)) if (settled.status === 'fulfilled') discard?.(settled.value);
    await source.return?.();
  }
}
