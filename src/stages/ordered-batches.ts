/**
 * Work on batches of a stream's items, several batches at once, with results leaving in
 * input order. Items the work does not apply to travel in order between the batches.
 * Bounded: at most `inFlight` batches pending and `maxQueued` entries waiting in all.
 */
export interface OrderedBatchOptions<T, R> {
  /** Whether an item goes to the work, or passes through as it is. */
  select: (item: T) => boolean;
  /** Size of an item for batching (bytes, say). */
  weight: (item: T) => number;
  /** A batch closes when its weight reaches this. */
  batchWeight: number;
  inFlight: number;
  maxQueued?: number;
  work: (batch: T[]) => Promise<R[]>;
}

type Entry<T, R> = { pass: T } | { batch: T[]; results: Promise<R[]> };

/** Yields [item, result] for worked items and [item, undefined] for passed ones, in input order. */
export async function* orderedBatches<T, R>(source: AsyncIterable<T>, options: OrderedBatchOptions<T, R>): AsyncGenerator<[T, R | undefined]> {
  const queue: Entry<T, R>[] = [];
  const maxQueued = options.maxQueued ?? 4096;
  let pendingBatches = 0;
  let current: T[] = [];
  let currentWeight = 0;

  const close = () => {
    if (current.length === 0) return;
    const batch = current;
    const results = options.work(batch);
    results.catch(() => {}); // observed when its turn comes
    queue.push({ batch, results });
    pendingBatches++;
    current = [];
    currentWeight = 0;
  };

  async function* shift(): AsyncGenerator<[T, R | undefined]> {
    const entry = queue.shift()!;
    if ('pass' in entry) {
      yield [entry.pass, undefined];
      return;
    }
    const results = await entry.results;
    pendingBatches--;
    for (let i = 0; i < entry.batch.length; i++) yield [entry.batch[i]!, results[i]];
  }

  try {
    for await (const item of source) {
      if (options.select(item)) {
        current.push(item);
        currentWeight += options.weight(item);
        if (currentWeight >= options.batchWeight) close();
      } else {
        close();
        queue.push({ pass: item });
      }
      while (queue.length > 0 && 'pass' in queue[0]!) yield* shift();
      while (pendingBatches >= options.inFlight || queue.length >= maxQueued) yield* shift();
    }
    close();
    while (queue.length > 0) yield* shift();
  } finally {
    // Let work already started finish before the caller tears down what it uses.
    await Promise.allSettled(queue.flatMap((entry) => ('results' in entry ? [entry.results] : [])));
  }
}
