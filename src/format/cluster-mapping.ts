/**
 * What one guest cluster reads as, from its L2 entry: the one question every reader asks.
 * Handles standard and extended (subcluster) entries and checks what an entry may not say.
 */
import { FormatError } from '../errors.js';
import { EXTENDED_L2_ENTRY_SIZE, L2_ENTRY_SIZE } from './constants.js';
import type { ImageHead } from './image-head.js';
import { readL2Entry } from './l2-entry.js';

export type ClusterMapping =
  /** Not allocated: the backing image shows through, or zeros. */
  | { kind: 'absent' }
  /** Reads as zeros, whatever lies at any host offset. */
  | { kind: 'zero' }
  /**
   * Host cluster at `hostOffset`. With extended L2, `allocated` and `zero` are the subcluster
   * bitmaps (bit i: subcluster i); subclusters in neither read from the backing image.
   */
  | { kind: 'data'; hostOffset: number; allocated?: number; zero?: number }
  | { kind: 'compressed'; hostOffset: number; length: number };

export const SUBCLUSTERS = 32;

export function l2EntrySize(head: ImageHead): number {
  return head.extendedL2 ? EXTENDED_L2_ENTRY_SIZE : L2_ENTRY_SIZE;
}

/** Entries in one L2 table of this image. */
export function l2EntriesOf(head: ImageHead): number {
  return head.clusterSize / l2EntrySize(head);
}

const ALL = 0xffffffff;

/** The mapping of entry `index` of an L2 table; `guest` names the guest cluster in errors. */
export function clusterMapping(table: DataView, index: number, head: ImageHead, guest: number): ClusterMapping {
  const at = index * l2EntrySize(head);
  const entry = readL2Entry(table, at, guest, head.header.clusterBits, head.header.version, head.extendedL2);
  if (!head.extendedL2) {
    if (entry.kind === 'normal') {
      if (entry.hostOffset % head.clusterSize !== 0) throw new FormatError(`L2 entry for guest cluster ${guest}`, `host offset ${entry.hostOffset} is not cluster aligned`);
      return { kind: 'data', hostOffset: entry.hostOffset };
    }
    if (entry.kind === 'zero') {
      // A preallocated zero cluster still names a host cluster, which must be aligned.
      if (entry.hostOffset % head.clusterSize !== 0) throw new FormatError(`L2 entry for guest cluster ${guest}`, `host offset ${entry.hostOffset} is not cluster aligned`);
      return { kind: 'zero' };
    }
    if (entry.kind === 'compressed') return { kind: 'compressed', hostOffset: entry.hostOffset, length: entry.length };
    return { kind: 'absent' };
  }

  const zero = table.getUint32(at + 8);
  const allocated = table.getUint32(at + 12);
  const where = `extended L2 entry for guest cluster ${guest}`;
  if (entry.kind === 'compressed') {
    if (zero !== 0 || allocated !== 0) throw new FormatError(where, 'a compressed cluster has a non-zero subcluster bitmap');
    return { kind: 'compressed', hostOffset: entry.hostOffset, length: entry.length };
  }
  if ((zero & allocated) !== 0) throw new FormatError(where, 'a subcluster is marked both allocated and zero');
  const hostOffset = entry.kind === 'normal' ? entry.hostOffset : 0;
  if (hostOffset % head.clusterSize !== 0) throw new FormatError(where, `host offset ${hostOffset} is not cluster aligned`);
  if (hostOffset === 0 && allocated !== 0) throw new FormatError(where, 'subclusters are allocated but the entry has no host cluster');
  if (allocated === 0) return zero === ALL >>> 0 ? { kind: 'zero' } : zero === 0 ? { kind: 'absent' } : { kind: 'data', hostOffset: 0, allocated: 0, zero };
  if (allocated >>> 0 === ALL >>> 0) return { kind: 'data', hostOffset };
  return { kind: 'data', hostOffset, allocated, zero };
}

/**
 * How many bytes from the start of a data cluster's host cluster a reader needs: all of it,
 * or with subclusters up to the end of the last allocated one (qemu does not always extend
 * the file to the end of a partly allocated cluster).
 */
export function hostBytesNeeded(mapping: Extract<ClusterMapping, { kind: 'data' }>, clusterSize: number): number {
  if (mapping.allocated === undefined) return clusterSize;
  return (32 - Math.clz32(mapping.allocated)) * (clusterSize / SUBCLUSTERS);
}
