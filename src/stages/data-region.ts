/**
 * Emits the data region of a planned image from its payload: the data and compressed bytes
 * of the allocated clusters, concatenated in guest order. Inserts the zero padding the
 * placement asks for (before an aligned cluster that follows compressed streams, where a
 * refcount would overflow, and at the end up to a whole cluster).
 */
import { InputError } from '../errors.js';
import type { AllocationMap } from '../format/allocation-map.js';
import { placeData } from '../format/data-placement.js';
import type { Qcow2Layout } from '../format/layout.js';
import { maxRefcount } from '../format/refcount-block.js';
import { ByteCursor } from './byte-cursor.js';

const ZERO_CHUNK = 1024 * 1024;

function* zeros(n: number): Generator<Uint8Array> {
  for (let left = n; left > 0; left -= ZERO_CHUNK) yield new Uint8Array(Math.min(left, ZERO_CHUNK));
}

/**
 * Joins views that lie side by side in one buffer, so a payload chunk that needs no padding
 * leaves as the very view it came in (a sink may then hand its buffer back to a pool).
 */
class AdjacentViews {
  private pending: Uint8Array | undefined;

  /** Adds a view; returns the previous run when this one does not continue it. */
  add(view: Uint8Array): Uint8Array | undefined {
    const pending = this.pending;
    if (pending && pending.buffer === view.buffer && pending.byteOffset + pending.byteLength === view.byteOffset) {
      this.pending = new Uint8Array(pending.buffer, pending.byteOffset, pending.byteLength + view.byteLength);
      return undefined;
    }
    this.pending = view;
    return pending;
  }

  flush(): Uint8Array | undefined {
    const pending = this.pending;
    this.pending = undefined;
    return pending;
  }
}

export async function* emitDataRegion(layout: Qcow2Layout, map: AllocationMap, payload: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const cursor = new ByteCursor(payload);
  const views = new AdjacentViews();
  try {
    let position = 0;
    for (const placement of placeData(map, layout.clusterSize, maxRefcount(layout.refcountOrder))) {
      if (placement.at > position) {
        const run = views.flush();
        if (run) yield run;
        yield* zeros(placement.at - position);
      }
      const length = placement.kind === 'data' ? placement.count * layout.clusterSize : placement.length;
      const pieces = cursor.take(length);
      let step = await pieces.next();
      while (!step.done) {
        const run = views.add(step.value);
        if (run) yield run;
        step = await pieces.next();
      }
      if (step.value > 0) throw new InputError(`cluster data ended ${step.value} bytes early`);
      position = placement.at + length;
    }
    const run = views.flush();
    if (run) yield run;
    if (!(await cursor.atEnd())) throw new InputError('cluster data goes on past the last allocated cluster');
    yield* zeros(layout.dataClusters * layout.clusterSize - position);
  } finally {
    await cursor.close();
  }
}
