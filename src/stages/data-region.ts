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

export async function* emitDataRegion(layout: Qcow2Layout, map: AllocationMap, payload: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const cursor = new ByteCursor(payload);
  try {
    let position = 0;
    for (const placement of placeData(map, layout.clusterSize, maxRefcount(layout.refcountOrder))) {
      if (placement.at > position) yield* zeros(placement.at - position);
      const length = placement.kind === 'data' ? placement.count * layout.clusterSize : placement.length;
      const missing = yield* cursor.take(length);
      if (missing > 0) throw new InputError(`cluster data ended ${missing} bytes early`);
      position = placement.at + length;
    }
    if (!(await cursor.atEnd())) throw new InputError('cluster data goes on past the last allocated cluster');
    yield* zeros(layout.dataClusters * layout.clusterSize - position);
  } finally {
    await cursor.close();
  }
}
