import test from 'ava';
import { FormatError } from '../../src/errors.js';
import { readL1Entry, writeL1Entry } from '../../src/format/l1-entry.js';
import { readL2Entry, writeCompressedL2Entry, writeL2Entry, writeL2ZeroEntry } from '../../src/format/l2-entry.js';
import { readRefcountTableEntry, writeRefcountTableEntry } from '../../src/format/refcount-table.js';
import { prng } from '../helpers/files.js';

const view = () => new DataView(new ArrayBuffer(16));

test('L1 entries keep offsets up to 2^56 exact, with the copied bit', (t) => {
  for (const offset of [0, 512, 2 ** 32, 2 ** 40 + 65536, 2 ** 52 + 2 ** 9, 2 ** 53 - 512]) {
    for (const copied of [true, false]) {
      const v = view();
      writeL1Entry(v, 0, offset, copied);
      t.deepEqual(readL1Entry(v, 0), { l2Offset: offset, copied });
    }
  }
});

test('L1 reserved bits are damage', (t) => {
  for (const [word, value] of [[0, 0x01000000], [4, 0x00000100], [4, 0x00000001]] as const) {
    const v = view();
    v.setUint32(word, value);
    t.throws(() => readL1Entry(v, 0), { instanceOf: FormatError });
  }
});

test('standard L2 entries: normal, zero (version 3 only), unallocated', (t) => {
  const v = view();
  writeL2Entry(v, 0, 2 ** 41 + 3 * 65536, true);
  t.deepEqual(readL2Entry(v, 0, 0, 16, 3), { kind: 'normal', hostOffset: 2 ** 41 + 3 * 65536, copied: true });
  writeL2ZeroEntry(v, 0);
  t.deepEqual(readL2Entry(v, 0, 0, 16, 3), { kind: 'zero', hostOffset: 0 });
  t.throws(() => readL2Entry(v, 0, 0, 16, 2), { instanceOf: FormatError });
  t.throws(() => readL2Entry(v, 0, 0, 16, 3, true), { instanceOf: FormatError });
  v.setUint32(0, 0);
  v.setUint32(4, 0);
  t.deepEqual(readL2Entry(v, 0, 0, 16, 3), { kind: 'unallocated' });
  v.setUint32(4, 65536 | 1);
  t.deepEqual(readL2Entry(v, 0, 0, 16, 3), { kind: 'zero', hostOffset: 65536 });
  v.setUint32(4, 0x100);
  t.throws(() => readL2Entry(v, 0, 0, 16, 3), { instanceOf: FormatError });
});

test('compressed descriptors round-trip for every cluster size, offsets past 2^32', (t) => {
  const next = prng(7);
  for (let clusterBits = 9; clusterBits <= 21; clusterBits++) {
    const x = 62 - (clusterBits - 8);
    const maxOffset = Math.min(2 ** x, 2 ** 53) - 1;
    for (let i = 0; i < 200; i++) {
      const offset = Math.floor((next() / 2 ** 32) * maxOffset);
      const length = 1 + (next() % (2 ** clusterBits));
      const v = view();
      writeCompressedL2Entry(v, 0, offset, length, clusterBits);
      const entry = readL2Entry(v, 0, 0, clusterBits, 3);
      if (entry.kind !== 'compressed') return t.fail(`decoded as ${entry.kind}`);
      t.is(entry.hostOffset, offset);
      // The descriptor counts whole sectors: the readable length covers the stream and ends on a sector boundary.
      t.true(entry.length >= length && entry.length - length < 512);
      t.is((offset + entry.length) % 512, 0);
    }
  }
});

test('a compressed entry with the copied bit is damage', (t) => {
  const v = view();
  writeCompressedL2Entry(v, 0, 65536, 100, 16);
  v.setUint32(0, (v.getUint32(0) | 0x80000000) >>> 0);
  t.throws(() => readL2Entry(v, 0, 5, 16, 3), { instanceOf: FormatError, message: /L2 entry 5/ });
});

test('refcount table entries round-trip; reserved bits are damage', (t) => {
  const v = view();
  writeRefcountTableEntry(v, 0, 2 ** 45 + 65536);
  t.is(readRefcountTableEntry(v, 0), 2 ** 45 + 65536);
  v.setUint32(4, 65536 | 1);
  t.throws(() => readRefcountTableEntry(v, 0), { instanceOf: FormatError });
});
