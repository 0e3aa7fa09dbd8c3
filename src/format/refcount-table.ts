/**
 * Refcount table entries: bits 9-63 the offset of a refcount block (0: not allocated,
 * every refcount it would hold is 0), bits 0-8 reserved.
 */
import { FormatError } from '../errors.js';
import { REFCOUNT_TABLE_ENTRY_SIZE } from './constants.js';
import { TWO_POW_32, writeUint64 } from './uint64.js';

const LOW_RESERVED_MASK = 0x000001ff;
const LOW_OFFSET_MASK = 0xfffffe00;
/** A high half from here on puts the offset at or past 2^53. */
const HIGH_PAST_2_53 = 0x200000;

export function writeRefcountTableEntry(view: DataView, at: number, blockOffset: number): void {
  writeUint64(view, at, blockOffset);
}

/** Decodes entry `index`; offsets past 2^53 or reserved bits set are damage. */
export function readRefcountTableEntry(view: DataView, index: number): number {
  const { blockOffset, reservedBitsSet } = inspectRefcountTableEntry(view, index, 1);
  if (reservedBitsSet) throw new FormatError(`refcount table entry ${index}`, 'reserved bits are set');
  if (blockOffset === undefined) throw new FormatError(`refcount table entry ${index}`, 'offset is beyond 2^53');
  return blockOffset;
}

/** A refcount table entry as it stands, for check, which reports damage rather than stopping at it. */
export interface RefcountTableEntryBits {
  /** Bits 9-63: the block's offset, exact; undefined when it is at or past 2^53 (no file reaches it). */
  blockOffset: number | undefined;
  /** Bits 9-63 modulo the cluster size, exact even past 2^53: 0 when the block is cluster aligned. */
  offsetInCluster: number;
  /** Any of bits 0-8 set. */
  reservedBitsSet: boolean;
}

/** Decodes entry `index` without judging it; `clusterSize` (at most 2^21) gives `offsetInCluster`. */
export function inspectRefcountTableEntry(view: DataView, index: number, clusterSize: number): RefcountTableEntryBits {
  const hi = view.getUint32(index * REFCOUNT_TABLE_ENTRY_SIZE);
  const lo = view.getUint32(index * REFCOUNT_TABLE_ENTRY_SIZE + 4);
  const low = (lo & LOW_OFFSET_MASK) >>> 0;
  return {
    blockOffset: hi >= HIGH_PAST_2_53 ? undefined : hi * TWO_POW_32 + low,
    // The high half is a multiple of 2^32, which every cluster size divides.
    offsetInCluster: low % clusterSize,
    reservedBitsSet: (lo & LOW_RESERVED_MASK) !== 0,
  };
}
