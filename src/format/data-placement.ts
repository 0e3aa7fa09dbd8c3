/**
 * Where each allocated guest cluster lands in the data region, relative to its start.
 *
 * Plain clusters are cluster aligned and consecutive. Compressed streams are packed back to
 * back, byte-granular, and may cross host clusters; every host cluster a stream touches gets
 * +1 on its refcount. When the open host cluster already holds as many streams as the
 * refcount width can count, the next stream starts on a fresh cluster instead.
 * The placement depends only on offsets relative to the region, so shifting the region by
 * whole clusters changes nothing.
 */
import { AllocationMap, RUN_DATA } from './allocation-map.js';
import { roundUp } from './uint64.js';

export type Placement =
  /** `count` plain clusters from guest cluster `start`, at consecutive host clusters from `at`. */
  | { kind: 'data'; start: number; count: number; at: number }
  /** One compressed stream of `length` bytes at byte `at`. */
  | { kind: 'compressed'; index: number; at: number; length: number };

export function* placeData(map: AllocationMap, clusterSize: number, maxRefcount: number): Generator<Placement, number> {
  let at = 0;
  /** Streams touching the host cluster that `at` points into, when `at` is not on a boundary. */
  let streamsInOpenCluster = 0;
  for (const run of map.runs()) {
    if (run.kind === RUN_DATA) {
      at = roundUp(at, clusterSize);
      streamsInOpenCluster = 0;
      yield { kind: 'data', start: run.start, count: run.count, at };
      at += run.count * clusterSize;
      continue;
    }
    for (let k = 0; k < run.count; k++) {
      const length = map.compressedLength(run.lengthsAt + k);
      if (at % clusterSize !== 0 && streamsInOpenCluster >= maxRefcount) {
        at = roundUp(at, clusterSize);
        streamsInOpenCluster = 0;
      }
      yield { kind: 'compressed', index: run.start + k, at, length };
      const end = at + length;
      const sameCluster = Math.floor(at / clusterSize) === Math.floor((end - 1) / clusterSize);
      if (end % clusterSize === 0) streamsInOpenCluster = 0;
      else streamsInOpenCluster = sameCluster ? streamsInOpenCluster + 1 : 1;
      at = end;
    }
  }
  return at;
}

/** Bytes the data region needs (before padding to a whole cluster). */
export function dataRegionLength(map: AllocationMap, clusterSize: number, maxRefcount: number): number {
  const placements = placeData(map, clusterSize, maxRefcount);
  for (;;) {
    const step = placements.next();
    if (step.done) return step.value;
  }
}

/**
 * Refcounts of the data region's host clusters, relative to its first cluster, as runs of equal
 * value in ascending order: [firstCluster, count, refcount]. Clusters not listed hold 0.
 */
export function* dataRefcounts(map: AllocationMap, clusterSize: number, maxRefcount: number): Generator<[number, number, number]> {
  let pendingCluster = -1;
  let pendingCount = 0;
  for (const placement of placeData(map, clusterSize, maxRefcount)) {
    if (placement.kind === 'data') {
      if (pendingCount > 0) yield [pendingCluster, 1, pendingCount];
      pendingCount = 0;
      pendingCluster = -1;
      yield [placement.at / clusterSize, placement.count, 1];
      continue;
    }
    const first = Math.floor(placement.at / clusterSize);
    const last = Math.floor((placement.at + placement.length - 1) / clusterSize);
    if (first !== pendingCluster) {
      if (pendingCount > 0) yield [pendingCluster, 1, pendingCount];
      pendingCluster = first;
      pendingCount = 0;
    }
    pendingCount++;
    if (last > first) {
      yield [pendingCluster, 1, pendingCount];
      if (last - 1 > first) yield [first + 1, last - first - 1, 1];
      pendingCluster = last;
      pendingCount = 1;
    }
  }
  if (pendingCount > 0) yield [pendingCluster, 1, pendingCount];
}
