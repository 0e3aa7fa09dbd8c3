/**
 * Which guest clusters an image allocates, in guest order, as runs. A run is either plain data
 * (whole clusters) or compressed clusters (each with its compressed length). Memory is about
 * 32 bytes per run plus 4 bytes per compressed cluster, whatever the virtual size.
 */
import { InputError } from '../errors.js';

export const RUN_DATA = 0;
export const RUN_COMPRESSED = 1;

export interface AllocationRun {
  /** First guest cluster index. */
  start: number;
  count: number;
  kind: typeof RUN_DATA | typeof RUN_COMPRESSED;
  /** For compressed runs: where this run's lengths start in `compressedLength()`. */
  lengthsAt: number;
}

class GrowableFloat64 {
  data = new Float64Array(16);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }
}

class GrowableUint32 {
  data = new Uint32Array(16);
  length = 0;
  push(value: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = value;
  }
}

export class AllocationMap {
  /** Entries per L2 table: decides how many L2 tables the allocated clusters need. */
  readonly l2Entries: number;
  private readonly starts = new GrowableFloat64();
  private readonly counts = new GrowableFloat64();
  private readonly lengthsAt = new GrowableFloat64();
  private readonly kinds: number[] = [];
  private readonly lengths = new GrowableUint32();
  private end = 0;
  private lastL1Index = -1;
  /** Allocated guest clusters, compressed or not. */
  clusterCount = 0;
  /** Compressed clusters among them. */
  compressedCount = 0;
  /** Distinct L1 entries (so L2 tables) the allocated clusters fall under. */
  l2TableCount = 0;

  constructor(l2Entries: number) {
    this.l2Entries = l2Entries;
  }

  get runCount(): number {
    return this.starts.length;
  }

  /** Guest cluster index one past the last allocated cluster. */
  get endCluster(): number {
    return this.end;
  }

  /** Marks `count` plain data clusters from `start`; calls must come in ascending guest order. */
  addData(start: number, count = 1): void {
    this.append(start, count, RUN_DATA);
  }

  /** Marks one compressed cluster whose stream is `length` bytes. */
  addCompressed(index: number, length: number): void {
    this.append(index, 1, RUN_COMPRESSED);
    this.lengths.push(length);
    this.compressedCount++;
  }

  /** Compressed length number `i` in guest order (see AllocationRun.lengthsAt). */
  compressedLength(i: number): number {
    return this.lengths.data[i]!;
  }

  *runs(): Generator<AllocationRun> {
    for (let i = 0; i < this.starts.length; i++) {
      yield {
        start: this.starts.data[i]!,
        count: this.counts.data[i]!,
        kind: this.kinds[i] as AllocationRun['kind'],
        lengthsAt: this.lengthsAt.data[i]!,
      };
    }
  }

  private append(start: number, count: number, kind: number): void {
    if (start < this.end) throw new InputError(`guest cluster ${start} is not after ${this.end - 1}: clusters must come in ascending order`);
    const last = this.starts.length - 1;
    if (last >= 0 && this.kinds[last] === kind && start === this.end) {
      this.counts.data[last]! += count;
    } else {
      this.starts.push(start);
      this.counts.push(count);
      this.kinds.push(kind);
      this.lengthsAt.push(this.lengths.length);
    }
    const firstL1 = Math.floor(start / this.l2Entries);
    const lastL1 = Math.floor((start + count - 1) / this.l2Entries);
    this.l2TableCount += lastL1 - firstL1 + 1 - (firstL1 === this.lastL1Index ? 1 : 0);
    this.lastL1Index = lastL1;
    this.end = start + count;
    this.clusterCount += count;
  }
}
