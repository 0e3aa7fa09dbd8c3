/**
 * Where each allocated guest cluster lands in the data region, relative to its start.
 *
 * Plain clusters are cluster aligned. Compressed streams are packed back to back,
 * byte-granular, and may cross host clusters; every host cluster a stream touches gets +1
 * on its refcount. When the open host cluster already holds as many streams as the
 * refcount width can count, the next stream starts on a fresh cluster instead.
 *
 * A plain cluster that arrives while a cluster of streams is still open would leave that
 * cluster's tail empty. As qemu keeps filling such a cluster while it allocates plain ones
 * elsewhere, plain clusters are held back (up to HELD_BYTES) while later streams fill the
 * open cluster, and placed right after it. So the data region is in host order, which is
 * guest order except within that window; `settledBefore` on each placement says that every
 * guest cluster below it has been placed.
 *
 * The placement depends only on offsets relative to the region, so shifting the region by
 * whole clusters changes nothing.
 */
import { AllocationMap, RUN_DATA } from './allocation-map.js';
import { roundUp } from './uint64.js';

/** Plain clusters held back at most, in bytes (at least one cluster). */
export const HELD_BYTES = 4 * 1024 * 1024;

export type Placement = (
  /** `count` plain clusters from guest cluster `start`, at consecutive host clusters from `at`. */
  | { kind: 'data'; start: number; count: number; at: number }
  /** One compressed stream of `length` bytes at byte `at`. */
  | { kind: 'compressed'; index: number; at: number; length: number }
) & {
  /** Every guest cluster below this one has been placed, here or before. */
  settledBefore: number;
};

export function* placeData(map: AllocationMap, clusterSize: number, maxRefcount: number): Generator<Placement, number> {
  const maxHeld = Math.max(1, Math.floor(HELD_BYTES / clusterSize));
  let at = 0;
  /** Streams touching the host cluster that `at` points into, when `at` is not on a boundary. */
  let streamsInOpenCluster = 0;
  const held: Array<{ start: number; count: number }> = [];
  let heldClusters = 0;

  /** Closes the open cluster and places the held runs; `unplaced` is the first guest cluster not met yet. */
  function* placeHeld(unplaced: number): Generator<Placement> {
    at = roundUp(at, clusterSize);
    streamsInOpenCluster = 0;
    const runs = held.splice(0);
    heldClusters = 0;
    for (const [i, run] of runs.entries()) {
      yield { kind: 'data', start: run.start, count: run.count, at, settledBefore: runs[i + 1]?.start ?? unplaced };
      at += run.count * clusterSize;
    }
  }

  for (const run of map.runs()) {
    if (run.kind === RUN_DATA) {
      let start = run.start;
      let count = run.count;
      while (count > 0) {
        if (at % clusterSize !== 0 && heldClusters < maxHeld) {
          const take = Math.min(count, maxHeld - heldClusters);
          held.push({ start, count: take });
          heldClusters += take;
          start += take;
          count -= take;
          continue;
        }
        yield* placeHeld(start);
        yield { kind: 'data', start, count, at, settledBefore: start + count };
        at += count * clusterSize;
        count = 0;
      }
      continue;
    }
    for (let k = 0; k < run.count; k++) {
      const index = run.start + k;
      const length = map.compressedLength(run.lengthsAt + k);
      const open = at % clusterSize !== 0;
      if (open && streamsInOpenCluster >= maxRefcount) {
        yield* placeHeld(index);
      } else if (held.length > 0 && (!open || length > clusterSize - (at % clusterSize))) {
        // The open cluster cannot take this stream whole: close it and place what was held.
        yield* placeHeld(index);
      }
      yield { kind: 'compressed', index, at, length, settledBefore: held[0]?.start ?? index + 1 };
      const end = at + length;
      const sameCluster = Math.floor(at / clusterSize) === Math.floor((end - 1) / clusterSize);
      if (end % clusterSize === 0) streamsInOpenCluster = 0;
      else streamsInOpenCluster = sameCluster ? streamsInOpenCluster + 1 : 1;
      at = end;
      if (at % clusterSize === 0 && held.length > 0) yield* placeHeld(index + 1);
    }
  }
  yield* placeHeld(map.endCluster);
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
