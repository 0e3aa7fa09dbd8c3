/**
 * The lenient decoders check uses: they report what an entry says, reserved bits and all,
 * where the strict ones throw.
 */
import test from 'ava';
import { inspectL1Entry } from '../../src/format/l1-entry.js';
import { inspectL2Entry, readL2Entry, readSubclusterBitmap } from '../../src/format/l2-entry.js';
import { inspectRefcountTableEntry, readRefcountTableEntry } from '../../src/format/refcount-table.js';

function entry(hi: number, lo: number, bitmap: [number, number] = [0, 0]): DataView {
  const view = new DataView(new ArrayBuffer(16));
  view.setUint32(0, hi);
  view.setUint32(4, lo);
  view.setUint32(8, bitmap[0]);
  view.setUint32(12, bitmap[1]);
  return view;
}

test('L1: the offset and the copied bit, with reserved bits reported', (t) => {
  t.deepEqual(inspectL1Entry(entry(0, 0), 0), { l2Offset: 0, copied: false, reservedBitsSet: false });
  // Bit 63, bits 32+8 and 16 of the offset, and bit 56 (reserved).
  t.deepEqual(inspectL1Entry(entry(0x81000100, 0x00010000), 0), { l2Offset: 2 ** 40 + 65536, copied: true, reservedBitsSet: true });
  t.deepEqual(inspectL1Entry(entry(0, 0x00010001), 0), { l2Offset: 65536, copied: false, reservedBitsSet: true });
});

test('L2: standard entries with reserved bits and the zero flag as they are', (t) => {
  t.deepEqual(inspectL2Entry(entry(0x80000002, 0x00030000), 0, 16), { kind: 'standard', hostOffset: 2 * 2 ** 32 + 3 * 65536, copied: true, zero: false, reservedBitsSet: false });
  t.deepEqual(inspectL2Entry(entry(0x01000000, 0x00000101), 0, 16), { kind: 'standard', hostOffset: 0, copied: false, zero: true, reservedBitsSet: true });
  t.deepEqual(readSubclusterBitmap(entry(0, 0, [0x10, 0x3]), 0), { zero: 0x10, allocated: 0x3 });
});

test('L2: a compressed entry with the copied bit is reported, where readL2Entry throws', (t) => {
  // 64 KiB clusters: x = 54, so bits 54-61 count the sectors after the first (here 2).
  const view = entry((0x40000000 | (2 << 22) | 1) >>> 0, 0x00000300);
  const strict = readL2Entry(view, 0, 0, 16, 3);
  // Three sectors from the one holding byte 0x300 (which starts at 0x200): 0x300 to 0x800.
  t.deepEqual(strict, { kind: 'compressed', hostOffset: 2 ** 32 + 0x300, length: 0x800 - 0x300 });
  t.deepEqual(inspectL2Entry(view, 0, 16), { ...strict, sectors: 3, copied: false });
  view.setUint32(0, (view.getUint32(0) | 0x80000000) >>> 0);
  t.deepEqual(inspectL2Entry(view, 0, 16), { ...strict, sectors: 3, copied: true });
});

test('refcount table: reserved bits and offsets past 2^53 reported, alignment exact even there', (t) => {
  t.deepEqual(inspectRefcountTableEntry(entry(1, 0x00010001), 0, 65536), { blockOffset: 2 ** 32 + 65536, offsetInCluster: 0, reservedBitsSet: true });
  t.deepEqual(inspectRefcountTableEntry(entry(0, 0x00010200), 0, 65536), { blockOffset: 65536 + 512, offsetInCluster: 512, reservedBitsSet: false });
  t.deepEqual(inspectRefcountTableEntry(entry(0x00200000, 0x00000200), 0, 65536), { blockOffset: undefined, offsetInCluster: 512, reservedBitsSet: false });
  t.deepEqual(inspectRefcountTableEntry(entry(0xffffffff, 0x00020000), 0, 65536), { blockOffset: undefined, offsetInCluster: 0, reservedBitsSet: false });
  t.is(readRefcountTableEntry(entry(0x001fffff, 0x00010000), 0), 0x001fffff * 2 ** 32 + 65536);
});
