/**
 * Refcount blocks: one cluster of refcounts, each 1 << refcount_order bits wide.
 * Widths below a byte pack from the least significant bit, as qemu does; 16, 32 and
 * 64 bits are big-endian.
 */
import { readUint64, writeUint64 } from './uint64.js';

/** Refcounts one block holds. */
export function refcountsPerBlock(clusterSize: number, refcountOrder: number): number {
  return (clusterSize * 8) / 2 ** refcountOrder;
}

/** The largest refcount a width can hold (2^53 - 1 stands in for 64 bits). */
export function maxRefcount(refcountOrder: number): number {
  return refcountOrder >= 6 ? Number.MAX_SAFE_INTEGER : 2 ** 2 ** refcountOrder - 1;
}

export function readRefcount(block: Uint8Array, index: number, refcountOrder: number): number {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  switch (refcountOrder) {
    case 0:
    case 1:
    case 2: {
      const bits = 2 ** refcountOrder;
      const perByte = 8 / bits;
      return (block[Math.floor(index / perByte)]! >>> ((index % perByte) * bits)) & ((1 << bits) - 1);
    }
    case 3:
      return block[index]!;
    case 4:
      return view.getUint16(index * 2);
    case 5:
      return view.getUint32(index * 4);
    default: {
      const value = readUint64(view, index * 8);
      return value === undefined ? Infinity : value;
    }
  }
}

export function writeRefcount(block: Uint8Array, index: number, refcountOrder: number, value: number): void {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  switch (refcountOrder) {
    case 0:
    case 1:
    case 2: {
      const bits = 2 ** refcountOrder;
      const perByte = 8 / bits;
      const byte = Math.floor(index / perByte);
      const shift = (index % perByte) * bits;
      const mask = ((1 << bits) - 1) << shift;
      block[byte] = (block[byte]! & ~mask) | ((value << shift) & mask);
      return;
    }
    case 3:
      block[index] = value;
      return;
    case 4:
      view.setUint16(index * 2, value);
      return;
    case 5:
      view.setUint32(index * 4, value);
      return;
    default:
      writeUint64(view, index * 8, value);
  }
}

/** Sets refcounts [start, start + count) of a block to `value`: the first whole byte (or entry), then doubling copies. */
export function fillRefcounts(block: Uint8Array, start: number, count: number, refcountOrder: number, value: number): void {
  const bits = 2 ** refcountOrder;
  const entriesPerUnit = bits < 8 ? 8 / bits : 1;
  const end = start + count;
  let i = start;
  while (i < end && i % entriesPerUnit !== 0) writeRefcount(block, i++, refcountOrder, value);
  const wholeEnd = end - (end % entriesPerUnit);
  if (wholeEnd > i) {
    for (let j = i; j < i + entriesPerUnit; j++) writeRefcount(block, j, refcountOrder, value);
    const from = (i * bits) / 8;
    const length = ((wholeEnd - i) * bits) / 8;
    for (let filled = (entriesPerUnit * bits) / 8; filled < length; filled *= 2) {
      block.copyWithin(from + filled, from, from + Math.min(filled, length - filled));
    }
    i = wholeEnd;
  }
  while (i < end) writeRefcount(block, i++, refcountOrder, value);
}
