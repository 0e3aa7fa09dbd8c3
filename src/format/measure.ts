/**
 * Image sizes before writing: the exact length our writer will produce for an allocation
 * map, and the two figures `qemu-img measure` prints, computed as qemu computes them
 * (qcow2_calc_prealloc_size and qcow2_refcount_metadata_size in block/qcow2*.c).
 */
import { AllocationMap } from './allocation-map.js';
import { L1_ENTRY_SIZE, L2_ENTRY_SIZE, REFCOUNT_TABLE_ENTRY_SIZE } from './constants.js';
import { planLayout, validateImageOptions, type ImageOptions } from './layout.js';
import { refcountsPerBlock } from './refcount-block.js';
import { divCeil, roundUp } from './uint64.js';

export interface QemuMeasure {
  /** Bytes needed for the allocated data plus metadata for a fully allocated disk. */
  required: number;
  /** Bytes of a fully allocated image. */
  fullyAllocated: number;
}

/** Bytes of refcount table and blocks for `clusters` clusters, qemu's fixed point (no generous increase). */
function refcountMetadataSize(clusters: number, clusterSize: number, refcountOrder: number): number {
  const blocksPerTableCluster = clusterSize / REFCOUNT_TABLE_ENTRY_SIZE;
  const perBlock = refcountsPerBlock(clusterSize, refcountOrder);
  let table = 0;
  let blocks = 0;
  let n = 0;
  let last: number;
  do {
    last = n;
    blocks = divCeil(clusters + table + blocks, perBlock);
    table = divCeil(blocks, blocksPerTableCluster);
    n = clusters + blocks + table;
  } while (n !== last);
  return (blocks + table) * clusterSize;
}

/**
 * qemu-img measure's figures for a disk of `virtualSize` bytes of which `allocatedBytes` hold
 * data (whole clusters; 0 for `--size`).
 */
export function qemuMeasure(options: ImageOptions, virtualSize: number, allocatedBytes = 0): QemuMeasure {
  const { refcountOrder } = validateImageOptions(options);
  const clusterSize = options.clusterSize;
  const alignedSize = roundUp(virtualSize, clusterSize);
  let meta = clusterSize;
  const l2EntryCount = roundUp(alignedSize / clusterSize, clusterSize / L2_ENTRY_SIZE);
  meta += l2EntryCount * L2_ENTRY_SIZE;
  const l1EntryCount = roundUp((l2EntryCount * L2_ENTRY_SIZE) / clusterSize, clusterSize / L1_ENTRY_SIZE);
  meta += l1EntryCount * L1_ENTRY_SIZE;
  meta += refcountMetadataSize((meta + alignedSize) / clusterSize, clusterSize, refcountOrder);
  const fullyAllocated = meta + alignedSize;
  return { required: fullyAllocated - alignedSize + allocatedBytes, fullyAllocated };
}

/** The exact length of the image this library writes for `map`. */
export function exactImageSize(options: ImageOptions, virtualSize: number, map: AllocationMap): number {
  return planLayout(options, virtualSize, map).totalLength;
}
