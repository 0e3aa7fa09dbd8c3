import test from 'ava';
import { fillRefcounts, maxRefcount, readRefcount, refcountsPerBlock, writeRefcount } from '../../src/format/refcount-block.js';
import { prng } from '../helpers/files.js';

test('every width holds its largest value and neighbours stay untouched', (t) => {
  for (let order = 0; order <= 6; order++) {
    const block = new Uint8Array(512);
    const n = refcountsPerBlock(512, order);
    t.is(n, 4096 / 2 ** order);
    const max = maxRefcount(order);
    for (let i = 0; i < n; i += 3) writeRefcount(block, i, order, max);
    for (let i = 0; i < n; i++) t.is(readRefcount(block, i, order), i % 3 === 0 ? max : 0, `order ${order} index ${i}`);
  }
});

test('sub-byte widths pack from the least significant bit, as qemu does', (t) => {
  const block = new Uint8Array(4);
  writeRefcount(block, 0, 0, 1);
  writeRefcount(block, 9, 0, 1);
  t.deepEqual([...block], [0b00000001, 0b00000010, 0, 0]);
  block.fill(0);
  writeRefcount(block, 1, 1, 3);
  writeRefcount(block, 2, 2, 0xa);
  t.deepEqual([...block], [0b00001100, 0x0a, 0, 0]);
  block.fill(0);
  writeRefcount(block, 1, 4, 0x1234);
  t.deepEqual([...block], [0, 0, 0x12, 0x34]);
});

test('fillRefcounts equals writing one by one, for every width and range', (t) => {
  const next = prng(3);
  for (let order = 0; order <= 6; order++) {
    const n = refcountsPerBlock(1024, order);
    for (let trial = 0; trial < 50; trial++) {
      const start = next() % n;
      const count = next() % (n - start + 1);
      const value = 1 + (next() % Math.min(maxRefcount(order), 1000));
      const fast = new Uint8Array(1024);
      const slow = new Uint8Array(1024);
      fillRefcounts(fast, start, count, order, value);
      for (let i = start; i < start + count; i++) writeRefcount(slow, i, order, value);
      t.deepEqual(fast, slow, `order ${order} start ${start} count ${count}`);
    }
  }
});
