/**
 * L1 table entries: bits 9-55 the L2 table offset (0: the whole range is unallocated),
 * bit 63 "copied" (the L2 table's refcount is exactly 1), all other bits reserved.
 */
import { FormatError } from '../errors.js';
import { L1_ENTRY_SIZE } from './constants.js';
import { high32, TWO_POW_32 } from './uint64.js';

const COPIED = 0x80000000;
const HIGH_OFFSET_MASK = 0x00ffffff;
const HIGH_RESERVED_MASK = 0x7f000000;
const LOW_OFFSET_MASK = 0xfffffe00;
const LOW_RESERVED_MASK = 0x000001ff;

export interface L1Entry {
  l2Offset: number;
  copied: boolean;
}

export function writeL1Entry(view: DataView, at: number, l2Offset: number, copied: boolean): void {
  view.setUint32(at, (high32(l2Offset) | (copied ? COPIED : 0)) >>> 0);
  view.setUint32(at + 4, l2Offset % TWO_POW_32);
}

/** An L1 entry as it stands, reserved bits and all: for check, which reports damage rather than stopping at it. */
export interface L1EntryBits extends L1Entry {
  /** Any of bits 0-8 and 56-62 set. */
  reservedBitsSet: boolean;
}

/** Decodes entry `index` of an L1 table without judging it. All fields 0 and false: the entry is all zeros. */
export function inspectL1Entry(view: DataView, index: number): L1EntryBits {
  const at = index * L1_ENTRY_SIZE;
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  return {
    l2Offset: (hi & HIGH_OFFSET_MASK) * TWO_POW_32 + ((lo & LOW_OFFSET_MASK) >>> 0),
    copied: (hi & COPIED) !== 0,
    reservedBitsSet: (hi & HIGH_RESERVED_MASK) !== 0 || (lo & LOW_RESERVED_MASK) !== 0,
  };
}

/** Decodes entry `index` of an L1 table; reserved bits set are damage. */
export function readL1Entry(view: DataView, index: number): L1Entry {
  const { l2Offset, copied, reservedBitsSet } = inspectL1Entry(view, index);
  if (reservedBitsSet) throw new FormatError(`L1 entry ${index}`, 'reserved bits are set');
  return { l2Offset, copied };
}
