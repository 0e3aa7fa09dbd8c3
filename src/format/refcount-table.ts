/**
 * Refcount table entries: bits 9-63 the offset of a refcount block (0: not allocated,
 * every refcount it would hold is 0), bits 0-8 reserved.
 */
import { FormatError } from '../errors.js';
import { TWO_POW_32, writeUint64 } from './uint64.js';

const LOW_RESERVED_MASK = 0x000001ff;

export function writeRefcountTableEntry(view: DataView, at: number, blockOffset: number): void {
  writeUint64(view, at, blockOffset);
}

/** Decodes entry `index`; offsets past 2^53 or reserved bits set are damage. */
export function readRefcountTableEntry(view: DataView, index: number): number {
  const hi = view.getUint32(index * 8);
  const lo = view.getUint32(index * 8 + 4);
  if ((lo & LOW_RESERVED_MASK) !== 0) throw new FormatError(`refcount table entry ${index}`, 'reserved bits are set');
  if (hi >= 0x200000) throw new FormatError(`refcount table entry ${index}`, 'offset is beyond 2^53');
  return hi * TWO_POW_32 + lo;
}
