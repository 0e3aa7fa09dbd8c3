/**
 * L2 table entries. Bit 63 "copied" (refcount exactly 1; never on compressed clusters),
 * bit 62 compressed, bits 0-61 a descriptor:
 *
 * - standard: bits 9-55 host offset (cluster aligned), bit 0 "reads as zeros" (version 3),
 *   bits 1-8 and 56-61 reserved. Offset 0 with bit 0 clear: unallocated.
 * - compressed, with x = 62 - (cluster_bits - 8): bits 0..x-1 host byte offset, bits x..61
 *   the number of 512-byte sectors after the one that holds the offset.
 *
 * Extended L2 entries (16 bytes) add a bitmap word: bits 0-31 subcluster allocated,
 * bits 32-63 subcluster reads as zeros.
 */
import { FormatError, InputError, LimitError } from '../errors.js';
import { SECTOR_SIZE } from './constants.js';
import { high32, low32, TWO_POW_32 } from './uint64.js';

const COPIED = 0x80000000;
const COMPRESSED = 0x40000000;
const HIGH_OFFSET_MASK = 0x00ffffff;
const HIGH_RESERVED_MASK = 0x3f000000;
const LOW_OFFSET_MASK = 0xfffffe00;
const LOW_RESERVED_MASK = 0x000001fe;
const ZERO_FLAG = 0x00000001;
/** Bits 32-61: the high half of a compressed descriptor. */
const DESCRIPTOR_HIGH_MASK = 0x3fffffff;

export type L2Entry =
  | { kind: 'unallocated' }
  /** Reads as zeros; hostOffset is a preallocated cluster (whose stale bytes must not be read) or 0. */
  | { kind: 'zero'; hostOffset: number }
  | { kind: 'normal'; hostOffset: number; copied: boolean }
  /** A compressed run: `length` bytes from hostOffset hold the stream (plus possible trailing garbage). */
  | { kind: 'compressed'; hostOffset: number; length: number };

/** The bit where the sector count starts in a compressed descriptor: x = 62 - (cluster_bits - 8). */
export function compressedOffsetBits(clusterBits: number): number {
  return 62 - (clusterBits - 8);
}

export function writeL2Entry(view: DataView, at: number, hostOffset: number, copied: boolean): void {
  view.setUint32(at, (high32(hostOffset) | (copied ? COPIED : 0)) >>> 0);
  view.setUint32(at + 4, low32(hostOffset));
}

/** A cluster that reads as zeros (version 3 only), with no host cluster behind it. */
export function writeL2ZeroEntry(view: DataView, at: number): void {
  view.setUint32(at, 0);
  view.setUint32(at + 4, ZERO_FLAG);
}

/** The most sectors after the first a compressed descriptor can count: its field is cluster_bits - 8 bits wide. */
function maxCompressedSectors(clusterBits: number): number {
  return 2 ** (clusterBits - 8) - 1;
}

/**
 * A compressed cluster whose stream of `length` bytes starts at host byte `hostOffset`.
 * sectors = ((offset + length - 1) >> 9) - (offset >> 9), computed without bitwise ops on the offset.
 * A stream too long for the sector count is the caller's input (InputError); an offset past
 * the descriptor's x bits is a limit of the format itself (LimitError).
 */
export function writeCompressedL2Entry(view: DataView, at: number, hostOffset: number, length: number, clusterBits: number): void {
  const x = compressedOffsetBits(clusterBits);
  if (!Number.isSafeInteger(length) || length < 1) throw new InputError(`a compressed stream of ${length} bytes cannot be described`);
  if (!Number.isSafeInteger(hostOffset) || hostOffset < 0 || hostOffset >= 2 ** x) {
    throw new LimitError('compressed cluster offset', `a compressed cluster at byte ${hostOffset} is past 2^${x}, the most a compressed L2 entry with ${2 ** clusterBits}-byte clusters can address; use smaller clusters or no compression`);
  }
  const sectors = Math.floor((hostOffset + length - 1) / SECTOR_SIZE) - Math.floor(hostOffset / SECTOR_SIZE);
  if (sectors > maxCompressedSectors(clusterBits)) {
    throw new InputError(`a compressed stream of ${length} bytes at byte ${hostOffset} spans more sectors than a compressed L2 entry with ${2 ** clusterBits}-byte clusters can count`);
  }
  view.setUint32(at, (COMPRESSED | (sectors * 2 ** (x - 32)) | high32(hostOffset)) >>> 0);
  view.setUint32(at + 4, low32(hostOffset));
}

/** The host offset of a standard entry (bits 9-55). */
function standardOffset(hi: number, lo: number): number {
  return (hi & HIGH_OFFSET_MASK) * TWO_POW_32 + ((lo & LOW_OFFSET_MASK) >>> 0);
}

/** A compressed descriptor (bits 0-61): host byte offset, readable length, and the sectors they span. */
function compressedDescriptor(hi: number, lo: number, clusterBits: number): { hostOffset: number; length: number; sectors: number } {
  const hiOffsetBits = compressedOffsetBits(clusterBits) - 32;
  const hostOffset = (hi & ((1 << hiOffsetBits) - 1)) * TWO_POW_32 + lo;
  const sectors = ((hi & DESCRIPTOR_HIGH_MASK) >>> hiOffsetBits) + 1;
  return { hostOffset, length: sectors * SECTOR_SIZE - (lo % SECTOR_SIZE), sectors };
}

/**
 * Decodes the L2 entry at byte `at` (entry `index` names it in errors). `version` decides whether
 * bit 0 is the zero flag or reserved; with extended L2, bit 0 is reserved too.
 */
export function readL2Entry(view: DataView, at: number, index: number, clusterBits: number, version: 2 | 3, extendedL2 = false): L2Entry {
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  if ((hi & COMPRESSED) !== 0) {
    if ((hi & COPIED) !== 0) throw new FormatError(`L2 entry ${index}`, 'compressed cluster has the copied bit set');
    const { hostOffset, length } = compressedDescriptor(hi, lo, clusterBits);
    return { kind: 'compressed', hostOffset, length };
  }
  const reservedLow = version === 2 || extendedL2 ? LOW_RESERVED_MASK | ZERO_FLAG : LOW_RESERVED_MASK;
  if ((hi & HIGH_RESERVED_MASK) !== 0 || (lo & reservedLow) !== 0) {
    throw new FormatError(`L2 entry ${index}`, 'reserved bits are set');
  }
  const hostOffset = standardOffset(hi, lo);
  if ((lo & ZERO_FLAG) !== 0) return { kind: 'zero', hostOffset };
  if (hostOffset === 0) return { kind: 'unallocated' };
  return { kind: 'normal', hostOffset, copied: (hi & COPIED) !== 0 };
}

/**
 * An L2 entry as it stands, for check, which reports damage rather than stopping at it: the
 * copied bit even where it may not be set, reserved bits (1-8 and 56-61) as a flag. The zero
 * flag (bit 0) is given as it is, whatever the version.
 */
export type L2EntryBits =
  /** `sectors`: the 512-byte sectors the stream spans, from the one that holds hostOffset. */
  | { kind: 'compressed'; hostOffset: number; length: number; sectors: number; copied: boolean }
  | { kind: 'standard'; hostOffset: number; copied: boolean; zero: boolean; reservedBitsSet: boolean };

/** Decodes the L2 entry at byte `at` without judging it. */
export function inspectL2Entry(view: DataView, at: number, clusterBits: number): L2EntryBits {
  const hi = view.getUint32(at);
  const lo = view.getUint32(at + 4);
  const copied = (hi & COPIED) !== 0;
  if ((hi & COMPRESSED) !== 0) return { kind: 'compressed', ...compressedDescriptor(hi, lo, clusterBits), copied };
  const reservedBitsSet = (hi & HIGH_RESERVED_MASK) !== 0 || (lo & LOW_RESERVED_MASK) !== 0;
  return { kind: 'standard', hostOffset: standardOffset(hi, lo), copied, zero: (lo & ZERO_FLAG) !== 0, reservedBitsSet };
}

/** The bitmap word of the extended L2 entry at byte `at` (bit i: subcluster i). */
export function readSubclusterBitmap(view: DataView, at: number): { allocated: number; zero: number } {
  return { zero: view.getUint32(at + 8), allocated: view.getUint32(at + 12) };
}
