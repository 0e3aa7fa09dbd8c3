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

/**
 * The placement, fed one guest run at a time in ascending guest order: a writer that does
 * not know the whole map yet (one that sends its head last) places clusters as they come,
 * and gets exactly the placements `placeData` gives for the finished map.
 */
export class DataPlacer {
  private readonly maxHeld: number;
  private at = 0;
  /** Streams touching the host cluster that `at` points into, when `at` is not on a boundary. */
  private streamsInOpenCluster = 0;
  private readonly held: Array<{ start: number; count: number }> = [];
  private heldClusters = 0;

  constructor(
    private readonly clusterSize: number,
    private readonly maxRefcount: number,
  ) {
    this.maxHeld = Math.max(1, Math.floor(HELD_BYTES / clusterSize));
  }

  /** Bytes placed so far, padding included (the region's length once `finish` has run). */
  get length(): number {
    return this.at;
  }

  /** Places `count` plain clusters from guest cluster `start`. */
  *addData(start: number, count: number): Generator<Placement> {
    const { clusterSize } = this;
    while (count > 0) {
      if (this.at % clusterSize !== 0 && this.heldClusters < this.maxHeld) {
        const take = Math.min(count, this.maxHeld - this.heldClusters);
        this.held.push({ start, count: take });
        this.heldClusters += take;
        start += take;
        count -= take;
        continue;
      }
      yield* this.placeHeld(start);
      yield { kind: 'data', start, count, at: this.at, settledBefore: start + count };
      this.at += count * clusterSize;
      count = 0;
    }
  }

  /** Places guest cluster `index`, compressed to a `length`-byte stream. */
  *addCompressed(index: number, length: number): Generator<Placement> {
    const { clusterSize } = this;
    const open = this.at % clusterSize !== 0;
    if (open && this.streamsInOpenCluster >= this.maxRefcount) {
      yield* this.placeHeld(index);
    } else if (this.held.length > 0 && (!open || length > clusterSize - (this.at % clusterSize))) {
      // The open cluster cannot take this stream whole: close it and place what was held.
      yield* this.placeHeld(index);
    }
    yield { kind: 'compressed', index, at: this.at, length, settledBefore: this.held[0]?.start ?? index + 1 };
    const end = this.at + length;
    const sameCluster = Math.floor(this.at / clusterSize) === Math.floor((end - 1) / clusterSize);
    if (end % clusterSize === 0) this.streamsInOpenCluster = 0;
    else this.streamsInOpenCluster = sameCluster ? this.streamsInOpenCluster + 1 : 1;
    this.at = end;
    if (this.at % clusterSize === 0 && this.held.length > 0) yield* this.placeHeld(index + 1);
  }

  /** Places what is still held; `endCluster` is one past the last allocated guest cluster. */
  *finish(endCluster: number): Generator<Placement> {
    yield* this.placeHeld(endCluster);
  }

  /** Closes the open cluster and places the held runs; `unplaced` is the first guest cluster not met yet. */
  private *placeHeld(unplaced: number): Generator<Placement> {
    this.at = roundUp(this.at, this.clusterSize);
    this.streamsInOpenCluster = 0;
    const runs = this.held.splice(0);
    this.heldClusters = 0;
    for (const [i, run] of runs.entries()) {
      yield { kind: 'data', start: run.start, count: run.count, at: this.at, settledBefore: runs[i + 1]?.start ?? unplaced };
      this.at += run.count * this.clusterSize;
    }
  }
}

/** Every placement of a finished map, in host order; returns the region's length. */
export function* placeData(map: AllocationMap, clusterSize: number, maxRefcount: number): Generator<Placement, number> {
  const placer = new DataPlacer(clusterSize, maxRefcount);
  for (const run of map.runs()) {
    if (run.kind === RUN_DATA) yield* placer.addData(run.start, run.count);
    else for (let k = 0; k < run.count; k++) yield* placer.addCompressed(run.start + k, map.compressedLength(run.lengthsAt + k));
  }
  yield* placer.finish(map.endCluster);
  return placer.length;
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
