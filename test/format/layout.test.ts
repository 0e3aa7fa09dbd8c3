import test from 'ava';
import { LimitError, OptionError } from '../../src/errors.js';
import { AllocationMap } from '../../src/format/allocation-map.js';
import { l2Entries, maxVirtualSize } from '../../src/format/geometry.js';
import { planLayout, type ImageOptions } from '../../src/format/layout.js';
import { encodeMetadata } from '../../src/format/metadata.js';
import { readRefcount, refcountsPerBlock } from '../../src/format/refcount-block.js';
import { readL1Entry } from '../../src/format/l1-entry.js';
import { readL2Entry } from '../../src/format/l2-entry.js';
import { prng } from '../helpers/files.js';

const TIB = 2 ** 40;

function mapOf(clusterSize: number, clusters: Array<[number, number]>): AllocationMap {
  const map = new AllocationMap(l2Entries(clusterSize));
  for (const [start, count] of clusters) map.addData(start, count);
  return map;
}

function concat(chunks: Iterable<Uint8Array>): Uint8Array {
  const list = [...chunks];
  const out = new Uint8Array(list.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of list) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

test('structures follow one another on cluster boundaries, in file order', (t) => {
  const options: ImageOptions = { version: 3, clusterSize: 65536, refcountBits: 16 };
  const layout = planLayout(options, 16 * TIB, mapOf(65536, [[0, 3], [2 ** 27, 1], [2 ** 28 - 1, 1]]));
  t.is(layout.refcountTableOffset, 65536);
  t.is(layout.refcountBlocksOffset, layout.refcountTableOffset + layout.refcountTableClusters * 65536);
  t.is(layout.l1TableOffset, layout.refcountBlocksOffset + layout.refcountBlockCount * 65536);
  t.is(layout.l2TablesOffset, layout.l1TableOffset + layout.l1TableClusters * 65536);
  t.is(layout.dataOffset, layout.l2TablesOffset + layout.l2TableCount * 65536);
  t.is(layout.totalLength, layout.dataOffset + 5 * 65536);
  t.is(layout.l1Size, (16 * TIB) / (65536 * 8192));
  t.is(layout.l2TableCount, 3);
});

test('the refcount fixed point covers every cluster, itself included, and no more than it must', (t) => {
  const next = prng(11);
  for (let trial = 0; trial < 300; trial++) {
    const clusterBits = 9 + (next() % 13);
    const clusterSize = 2 ** clusterBits;
    const refcountBits = 2 ** (next() % 7);
    const virtualSize = Math.min(maxVirtualSize(clusterSize), 1 + (next() % 2 ** 20) * clusterSize);
    const clusters = Math.ceil(virtualSize / clusterSize);
    const allocated = next() % Math.min(clusters, 5000);
    const layout = planLayout({ version: 3, clusterSize, refcountBits }, virtualSize, mapOf(clusterSize, allocated ? [[clusters - allocated, allocated]] : []));
    const perBlock = refcountsPerBlock(clusterSize, Math.log2(refcountBits));
    t.true(layout.refcountBlockCount * perBlock >= layout.totalClusters);
    t.true((layout.refcountBlockCount - 1) * perBlock < layout.totalClusters || layout.refcountBlockCount === 1);
    t.true(layout.refcountTableClusters * (clusterSize / 8) >= layout.refcountBlockCount);
    t.is(layout.totalLength, layout.totalClusters * clusterSize);
  }
});

test('encoded metadata of a 16 TiB disk maps clusters past 2^32 and 2^40 exactly', (t) => {
  const clusterSize = 65536;
  const far = Math.floor((15 * TIB) / clusterSize);
  const map = mapOf(clusterSize, [[1, 1], [far, 2]]);
  const layout = planLayout({ version: 3, clusterSize, refcountBits: 16 }, 16 * TIB, map);
  const meta = concat(encodeMetadata(layout, map));
  t.is(meta.length, layout.dataOffset);
  const view = new DataView(meta.buffer);
  const l1Index = Math.floor(far / 8192);
  const l1 = readL1Entry(new DataView(meta.buffer, layout.l1TableOffset), l1Index);
  t.is(l1.l2Offset, layout.l2TablesOffset + 65536);
  t.true(l1.copied);
  const l2 = new DataView(meta.buffer, l1.l2Offset);
  t.deepEqual(readL2Entry(l2, (far % 8192) * 8, 0, 16, 3), { kind: 'normal', hostOffset: layout.dataOffset + 65536, copied: true });
  t.deepEqual(readL2Entry(l2, ((far + 1) % 8192) * 8, 0, 16, 3), { kind: 'normal', hostOffset: layout.dataOffset + 2 * 65536, copied: true });
  // Every cluster of the file has refcount 1, and the clusters past the end have 0.
  const block = meta.subarray(layout.refcountBlocksOffset, layout.refcountBlocksOffset + 65536);
  for (let i = 0; i < layout.totalClusters; i++) t.is(readRefcount(block, i, 4), 1);
  t.is(readRefcount(block, layout.totalClusters, 4), 0);
  t.is(view.getUint32(0), 0x514649fb);
});

test('a virtual size the L1 limit cannot map is refused, naming the way out', (t) => {
  const error = t.throws(() => planLayout({ version: 3, clusterSize: 512, refcountBits: 16 }, TIB, mapOf(512, [])), { instanceOf: LimitError });
  t.regex(error.message, /larger cluster_size/);
  t.notThrows(() => planLayout({ version: 3, clusterSize: 512, refcountBits: 16 }, maxVirtualSize(512), mapOf(512, [])));
});

test('invalid options are refused one by one', (t) => {
  t.throws(() => planLayout({ version: 3, clusterSize: 1000, refcountBits: 16 }, 0, mapOf(65536, [])), { instanceOf: OptionError, message: /cluster_size/ });
  t.throws(() => planLayout({ version: 3, clusterSize: 65536, refcountBits: 3 }, 0, mapOf(65536, [])), { instanceOf: OptionError, message: /refcount_bits/ });
  t.throws(() => planLayout({ version: 2, clusterSize: 65536, refcountBits: 64 }, 0, mapOf(65536, [])), { instanceOf: OptionError, message: /refcount_bits/ });
  t.throws(() => planLayout({ version: 3, clusterSize: 4194304, refcountBits: 16 }, 0, mapOf(65536, [])), { instanceOf: OptionError });
});
