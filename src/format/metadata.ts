/**
 * Encodes everything before the data region of a planned image: header cluster, refcount
 * table, refcount blocks, L1 table, L2 tables and any padding, in file order, as whole clusters.
 * Memory stays at a few clusters whatever the image size.
 */
import { AllocationMap } from './allocation-map.js';
import { L2_ENTRY_SIZE, REFCOUNT_TABLE_ENTRY_SIZE } from './constants.js';
import { dataRefcounts, placeData } from './data-placement.js';
import { encodeHeader, newHeader } from './header.js';
import { encodeExtensions, encodeFeatureNameTable, QEMU_FEATURE_NAMES, type HeaderExtension } from './header-extensions.js';
import { writeL1Entry } from './l1-entry.js';
import { writeCompressedL2Entry, writeL2Entry } from './l2-entry.js';
import type { Qcow2Layout } from './layout.js';
import { fillRefcounts, maxRefcount, refcountsPerBlock } from './refcount-block.js';
import { writeRefcountTableEntry } from './refcount-table.js';
import { viewOf } from './uint64.js';

/** Header and extensions, padded to one cluster. */
export function encodeHeaderCluster(layout: Qcow2Layout): Uint8Array {
  const header = encodeHeader(
    newHeader({
      version: layout.version,
      clusterBits: layout.clusterBits,
      size: layout.virtualSize,
      refcountOrder: layout.refcountOrder,
      l1Size: layout.l1Size,
      l1TableOffset: layout.l1TableOffset,
      refcountTableOffset: layout.refcountTableOffset,
      refcountTableClusters: layout.refcountTableClusters,
      compressionType: layout.compressionType,
    }),
  );
  const extensions: HeaderExtension[] = layout.version === 3 ? [encodeFeatureNameTable(QEMU_FEATURE_NAMES)] : [];
  const cluster = new Uint8Array(layout.clusterSize);
  cluster.set(header, 0);
  const encoded = encodeExtensions(extensions);
  if (header.length + encoded.length > layout.clusterSize) throw new RangeError('header extensions do not fit in cluster 0');
  cluster.set(encoded, header.length);
  return cluster;
}

function* encodeRefcountTable(layout: Qcow2Layout): Generator<Uint8Array> {
  const table = new Uint8Array(layout.refcountTableClusters * layout.clusterSize);
  const view = viewOf(table);
  for (let i = 0; i < layout.refcountBlockCount; i++) {
    writeRefcountTableEntry(view, i * REFCOUNT_TABLE_ENTRY_SIZE, layout.refcountBlocksOffset + i * layout.clusterSize);
  }
  yield table;
}

/** Refcounts of every host cluster as ascending runs [firstCluster, count, refcount]. */
function* hostRefcounts(layout: Qcow2Layout, map: AllocationMap): Generator<[number, number, number]> {
  const firstDataCluster = layout.dataOffset / layout.clusterSize;
  yield [0, layout.metadataEnd / layout.clusterSize, 1];
  for (const [first, count, value] of dataRefcounts(map, layout.clusterSize, maxRefcount(layout.refcountOrder))) {
    yield [firstDataCluster + first, count, value];
  }
}

function* encodeRefcountBlocks(layout: Qcow2Layout, map: AllocationMap): Generator<Uint8Array> {
  const perBlock = refcountsPerBlock(layout.clusterSize, layout.refcountOrder);
  let blockIndex = 0;
  let block = new Uint8Array(layout.clusterSize);
  for (let [first, count, value] of hostRefcounts(layout, map)) {
    while (count > 0) {
      const target = Math.floor(first / perBlock);
      while (blockIndex < target) {
        yield block;
        block = new Uint8Array(layout.clusterSize);
        blockIndex++;
      }
      const start = first - blockIndex * perBlock;
      const n = Math.min(count, perBlock - start);
      fillRefcounts(block, start, n, layout.refcountOrder, value);
      first += n;
      count -= n;
    }
  }
  for (; blockIndex < layout.refcountBlockCount; blockIndex++) {
    yield block;
    block = new Uint8Array(layout.clusterSize);
  }
}

/** The L1 indices that have an L2 table, ascending. */
function* mappedL1Indices(map: AllocationMap): Generator<number> {
  let last = -1;
  for (const run of map.runs()) {
    const first = Math.max(Math.floor(run.start / map.l2Entries), last + 1);
    const end = Math.floor((run.start + run.count - 1) / map.l2Entries);
    for (let i = first; i <= end; i++) yield i;
    last = Math.max(last, end);
  }
}

function* encodeL1Table(layout: Qcow2Layout, map: AllocationMap): Generator<Uint8Array> {
  const entriesPerCluster = layout.clusterSize / 8;
  let chunkIndex = 0;
  let chunk = new Uint8Array(layout.clusterSize);
  let l2Number = 0;
  for (const l1Index of mappedL1Indices(map)) {
    while (Math.floor(l1Index / entriesPerCluster) > chunkIndex) {
      yield chunk;
      chunk = new Uint8Array(layout.clusterSize);
      chunkIndex++;
    }
    writeL1Entry(viewOf(chunk), (l1Index % entriesPerCluster) * 8, layout.l2TablesOffset + l2Number * layout.clusterSize, true);
    l2Number++;
  }
  for (; chunkIndex < layout.l1TableClusters; chunkIndex++) {
    yield chunk;
    chunk = new Uint8Array(layout.clusterSize);
  }
}

/**
 * L2 tables in L1 order. Placements come in host order, which is guest order but for a
 * short window (data-placement.ts), so a table is finished, and given out, once every guest
 * cluster it maps is settled.
 */
function* encodeL2Tables(layout: Qcow2Layout, map: AllocationMap): Generator<Uint8Array> {
  const perTable = map.l2Entries;
  const open = new Map<number, Uint8Array>();
  const write = (guest: number, host: number, length: number) => {
    const l1Index = Math.floor(guest / perTable);
    let table = open.get(l1Index);
    if (!table) open.set(l1Index, (table = new Uint8Array(layout.clusterSize)));
    const view = viewOf(table);
    const at = (guest % perTable) * L2_ENTRY_SIZE;
    if (length === 0) writeL2Entry(view, at, host, true);
    else writeCompressedL2Entry(view, at, host, length, layout.clusterBits);
  };
  function* finished(settledBefore: number): Generator<Uint8Array> {
    for (const l1Index of [...open.keys()].sort((a, b) => a - b)) {
      if ((l1Index + 1) * perTable > settledBefore) break;
      yield open.get(l1Index)!;
      open.delete(l1Index);
    }
  }
  for (const placement of placeData(map, layout.clusterSize, maxRefcount(layout.refcountOrder))) {
    if (placement.kind === 'compressed') write(placement.index, layout.dataOffset + placement.at, placement.length);
    else for (let k = 0; k < placement.count; k++) write(placement.start + k, layout.dataOffset + placement.at + k * layout.clusterSize, 0);
    yield* finished(placement.settledBefore);
  }
  yield* finished(Infinity);
}

/** Every metadata cluster from byte 0 up to the data region, in file order. */
export function* encodeMetadata(layout: Qcow2Layout, map: AllocationMap): Generator<Uint8Array> {
  yield encodeHeaderCluster(layout);
  yield* encodeRefcountTable(layout);
  yield* encodeRefcountBlocks(layout, map);
  yield* encodeL1Table(layout, map);
  yield* encodeL2Tables(layout, map);
  for (let at = layout.metadataEnd; at < layout.dataOffset; at += layout.clusterSize) yield new Uint8Array(layout.clusterSize);
}
