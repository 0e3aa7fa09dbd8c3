/**
 * The layout planner. Given the geometry, the options and the allocation map, it places, in
 * file order: header (cluster 0), refcount table, refcount blocks, L1 table, L2 tables (only
 * for L1 entries that map something), then the data region. Every structure starts on a
 * cluster boundary and the file ends on one.
 *
 * A writer that sends its head last (data first, then header and tables) may ask for the
 * data region to start no earlier than `minDataOffset`: the clusters between the last table
 * and the data are then unreferenced padding, with refcount 0.
 */
import { InputError, LimitError, OptionError } from '../errors.js';
import { AllocationMap } from './allocation-map.js';
import { COMPRESSION_DEFLATE, L1_ENTRY_SIZE, MAX_REFCOUNT_ORDER, MAX_REFCOUNT_TABLE_BYTES, REFCOUNT_TABLE_ENTRY_SIZE, V2_REFCOUNT_ORDER } from './constants.js';
import { dataRegionLength } from './data-placement.js';
import { clusterBitsOf, guestClusters, l1EntriesFor, l2Entries, maxVirtualSize } from './geometry.js';
import { maxRefcount, refcountsPerBlock } from './refcount-block.js';
import { divCeil } from './uint64.js';

export interface ImageOptions {
  /** 2 (compat=0.10) or 3 (compat=1.1). */
  version: 2 | 3;
  clusterSize: number;
  /** Refcount width in bits: 16 for version 2; 1, 2, 4, 8, 16, 32 or 64 for version 3. */
  refcountBits: number;
  /** 0 deflate (default), 1 zstd; only matters for compressed clusters. */
  compressionType?: number;
}

export interface Qcow2Layout {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  virtualSize: number;
  refcountOrder: number;
  compressionType: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  refcountBlocksOffset: number;
  refcountBlockCount: number;
  l1TableOffset: number;
  /** L1 entries (the header's l1_size). */
  l1Size: number;
  l1TableClusters: number;
  l2TablesOffset: number;
  l2TableCount: number;
  /** End of the tables: clusters from here to `dataOffset` are padding. */
  metadataEnd: number;
  dataOffset: number;
  /** Bytes of the data region before padding to a whole cluster. */
  dataLength: number;
  dataClusters: number;
  totalClusters: number;
  /** The exact length of the image file. */
  totalLength: number;
}

/** Checks options once, with one message per mistake; returns cluster_bits and refcount_order. */
export function validateImageOptions(options: ImageOptions): { clusterBits: number; refcountOrder: number } {
  if (options.version !== 2 && options.version !== 3) throw new OptionError('compat', 'must be 0.10 (version 2) or 1.1 (version 3)');
  const clusterBits = clusterBitsOf(options.clusterSize);
  if (clusterBits === undefined) throw new OptionError('cluster_size', `${options.clusterSize} is not a power of two from 512 to 2097152`);
  const refcountOrder = Math.log2(options.refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > MAX_REFCOUNT_ORDER) {
    throw new OptionError('refcount_bits', `${options.refcountBits} is not a power of two from 1 to 64`);
  }
  if (options.version === 2 && refcountOrder !== V2_REFCOUNT_ORDER) {
    throw new OptionError('refcount_bits', 'compat=0.10 (version 2) only supports refcount_bits=16');
  }
  const compressionType = options.compressionType ?? COMPRESSION_DEFLATE;
  if (compressionType !== COMPRESSION_DEFLATE && options.version === 2) {
    throw new OptionError('compression_type', 'compat=0.10 (version 2) only supports deflate');
  }
  return { clusterBits, refcountOrder };
}

export function planLayout(options: ImageOptions, virtualSize: number, map: AllocationMap, minDataOffset = 0): Qcow2Layout {
  const { clusterBits, refcountOrder } = validateImageOptions(options);
  const clusterSize = options.clusterSize;
  if (!Number.isSafeInteger(virtualSize) || virtualSize < 0) throw new OptionError('size', `${virtualSize} is not a byte count`);
  if (virtualSize > maxVirtualSize(clusterSize)) {
    throw new LimitError('virtual size', `a ${virtualSize}-byte disk needs an L1 table over 32 MiB with ${clusterSize}-byte clusters; use a larger cluster_size (at most ${maxVirtualSize(clusterSize)} bytes fit)`);
  }
  if (map.l2Entries !== l2Entries(clusterSize)) throw new InputError(`the allocation map was built for another cluster size (${map.l2Entries} L2 entries per table, not ${l2Entries(clusterSize)})`);
  if (map.endCluster > guestClusters(virtualSize, clusterSize)) {
    throw new InputError(`the allocation map reaches guest cluster ${map.endCluster - 1}, past the ${virtualSize}-byte virtual size`);
  }

  const l1Size = l1EntriesFor(virtualSize, clusterSize);
  const l1TableClusters = divCeil(l1Size * L1_ENTRY_SIZE, clusterSize);
  const dataLength = dataRegionLength(map, clusterSize, maxRefcount(refcountOrder));
  const dataClusters = divCeil(dataLength, clusterSize);
  const { tableClusters, blocks, headClusters } = sizeHead(clusterSize, refcountOrder, 1 + l1TableClusters + map.l2TableCount, dataClusters, divCeil(minDataOffset, clusterSize));

  const refcountTableOffset = clusterSize;
  const refcountBlocksOffset = refcountTableOffset + tableClusters * clusterSize;
  const l1TableOffset = refcountBlocksOffset + blocks * clusterSize;
  const l2TablesOffset = l1TableOffset + l1TableClusters * clusterSize;
  const metadataEnd = l2TablesOffset + map.l2TableCount * clusterSize;
  const dataOffset = headClusters * clusterSize;
  const totalClusters = dataOffset / clusterSize + dataClusters;
  return {
    version: options.version,
    clusterBits,
    clusterSize,
    virtualSize,
    refcountOrder,
    compressionType: options.compressionType ?? COMPRESSION_DEFLATE,
    refcountTableOffset,
    refcountTableClusters: tableClusters,
    refcountBlocksOffset,
    refcountBlockCount: blocks,
    l1TableOffset,
    l1Size,
    l1TableClusters,
    l2TablesOffset,
    l2TableCount: map.l2TableCount,
    metadataEnd,
    dataOffset,
    dataLength,
    dataClusters,
    totalClusters,
    totalLength: totalClusters * clusterSize,
  };
}

/**
 * Sizes the refcount structures, which count every cluster, themselves included: a fixed
 * point. `fixedClusters` are the header, L1 and L2 clusters; the head is at least `minHeadClusters`.
 */
function sizeHead(clusterSize: number, refcountOrder: number, fixedClusters: number, dataClusters: number, minHeadClusters: number): { tableClusters: number; blocks: number; headClusters: number } {
  const perBlock = refcountsPerBlock(clusterSize, refcountOrder);
  const entriesPerTableCluster = clusterSize / REFCOUNT_TABLE_ENTRY_SIZE;
  const head = (tableClusters: number, blocks: number) => Math.max(fixedClusters + tableClusters + blocks, minHeadClusters);
  let blocks = 0;
  let tableClusters = 0;
  for (;;) {
    const nextBlocks = divCeil(head(tableClusters, blocks) + dataClusters, perBlock);
    const nextTable = Math.max(1, divCeil(nextBlocks, entriesPerTableCluster));
    if (nextBlocks === blocks && nextTable === tableClusters) break;
    blocks = nextBlocks;
    tableClusters = nextTable;
  }
  if (tableClusters * clusterSize > MAX_REFCOUNT_TABLE_BYTES) {
    throw new LimitError('refcount table', `the image needs a refcount table of ${tableClusters} clusters, over qemu's 8 MiB; use larger clusters or wider refcounts`);
  }
  return { tableClusters, blocks, headClusters: head(tableClusters, blocks) };
}

/**
 * The longest head (header and tables) any image of this virtual size can need: an L2 table
 * for every L1 entry, and refcounts for a data region of twice the virtual size (compressed
 * streams can leave at most that much room unused). A seekable sink that writes data before
 * the tables reserves this much in front of it.
 */
export function worstCaseHeadLength(options: ImageOptions, virtualSize: number): number {
  const { refcountOrder } = validateImageOptions(options);
  const { clusterSize } = options;
  const l1Size = l1EntriesFor(virtualSize, clusterSize);
  const fixed = 1 + divCeil(l1Size * L1_ENTRY_SIZE, clusterSize) + l1Size;
  return sizeHead(clusterSize, refcountOrder, fixed, 2 * guestClusters(virtualSize, clusterSize), 0).headClusters * clusterSize;
}
